package dev.flotilla.images.oci;

import dev.flotilla.images.Digest;
import dev.flotilla.images.ImageConfig;

import java.util.List;

/**
 * The parts of an image configuration blob we use.
 *
 * @param os           platform os the image was built for
 * @param architecture its architecture
 * @param config       the run-time settings
 * @param diffIds      digests of each layer's uncompressed tar, base first; checked while unpacking
 */
public record ConfigBlob(String os, String architecture, ImageConfig config, List<Digest> diffIds) {
    public ConfigBlob {
        diffIds = List.copyOf(diffIds);
    }
}
