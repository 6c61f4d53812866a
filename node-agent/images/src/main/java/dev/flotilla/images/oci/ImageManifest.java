package dev.flotilla.images.oci;

import java.util.List;

/**
 * A single-platform image manifest (OCI or Docker v2 schema 2).
 *
 * @param mediaType the manifest's own media type
 * @param config    the image configuration blob
 * @param layers    the layer blobs, base first
 */
public record ImageManifest(String mediaType, Descriptor config, List<Descriptor> layers) {
    public ImageManifest {
        layers = List.copyOf(layers);
    }
}
