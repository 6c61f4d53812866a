package dev.flotilla.images;

import java.nio.file.Path;
import java.time.Instant;

/**
 * Space the store uses, for CRI's ImageFsInfo.
 *
 * @param root           the store directory
 * @param usedBytes      bytes of all files in the store (blobs, rootfs images, refs)
 * @param inodesUsed     files and directories in the store
 * @param capacityBytes  size of the filesystem the store is on
 * @param availableBytes space left on it for an unprivileged writer
 * @param measuredAt     when this was measured
 */
public record FsInfo(Path root, long usedBytes, long inodesUsed, long capacityBytes, long availableBytes, Instant measuredAt) {
}
