package dev.flotilla.images;

/**
 * What a garbage collection removed.
 *
 * @param blobsRemoved  blobs no image referenced
 * @param rootfsRemoved root filesystem images of images no longer in the store
 * @param bytesFreed    bytes of both
 */
public record GcResult(int blobsRemoved, int rootfsRemoved, long bytesFreed) {
}
