package dev.flotilla.images;

import dev.flotilla.images.oci.Descriptor;

import java.time.Instant;
import java.util.List;
import java.util.Optional;

/**
 * A pulled image in the local store.
 *
 * @param reference      the name it was pulled as
 * @param manifestDigest digest of its linux/amd64 manifest: the "repo digest", and the key of its rootfs
 * @param indexDigest    digest of the index the manifest was chosen from, or null
 * @param configDigest   digest of its configuration: the image ID
 * @param layers         its layer blobs, base first
 * @param diffIds        digests of the uncompressed layers, base first
 * @param config         what it asks of a container
 * @param pulledAt       when the reference was last pulled
 */
public record Image(ImageReference reference, Digest manifestDigest, Digest indexDigest, Digest configDigest,
                    List<Descriptor> layers, List<Digest> diffIds, ImageConfig config, Instant pulledAt) {
    public Image {
        layers = List.copyOf(layers);
        diffIds = List.copyOf(diffIds);
    }

    public Optional<Digest> index() {
        return Optional.ofNullable(indexDigest);
    }

    /** Bytes of the compressed layers (what a pull transfers at most). */
    public long size() {
        return layers.stream().mapToLong(Descriptor::size).sum();
    }

    /** {@code registry/repository@sha256:...}: the name pinned to this exact manifest. */
    public ImageReference repoDigest() {
        return new ImageReference(reference.registry(), reference.repository(), null, manifestDigest);
    }
}
