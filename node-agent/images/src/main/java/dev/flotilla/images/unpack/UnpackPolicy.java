package dev.flotilla.images.unpack;

/**
 * What an image may put into a root filesystem, and how much. Layers come from anyone who can push
 * to a registry, so sizes are capped: without caps a small gzip bomb fills the host's disk.
 *
 * @param maxEntryBytes    largest single file
 * @param maxImageBytes    sum of all file contents over all layers of one image
 * @param maxEntries       tar entries over all layers of one image (bounds inode use)
 * @param allowDeviceNodes whether character and block device nodes may be created (the guest's
 *                         /dev is a devtmpfs; an image has no need for its own nodes)
 */
public record UnpackPolicy(long maxEntryBytes, long maxImageBytes, long maxEntries, boolean allowDeviceNodes) {
    /** 4 GiB per file, 32 GiB and two million entries per image, no device nodes. */
    public static UnpackPolicy defaults() {
        return new UnpackPolicy(4L << 30, 32L << 30, 2_000_000, false);
    }

    public UnpackPolicy {
        if (maxEntryBytes <= 0 || maxImageBytes <= 0 || maxEntries <= 0) {
            throw new IllegalArgumentException("unpack limits must be positive: " + maxEntryBytes + ", " + maxImageBytes + ", " + maxEntries);
        }
    }
}
