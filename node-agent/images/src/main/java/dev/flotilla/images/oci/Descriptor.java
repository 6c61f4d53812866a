package dev.flotilla.images.oci;

import dev.flotilla.images.Digest;

/**
 * An OCI content descriptor: what a manifest says about a blob it points to.
 *
 * @param mediaType the blob's media type
 * @param digest    its digest, verified when the blob is fetched
 * @param size      its exact size in bytes, enforced when it is fetched
 * @param platform  for index entries, the platform of the manifest; otherwise null
 */
public record Descriptor(String mediaType, Digest digest, long size, Platform platform) {
    public Descriptor {
        if (size < 0) {
            throw new IllegalArgumentException("descriptor " + digest + " has a negative size " + size);
        }
    }
}
