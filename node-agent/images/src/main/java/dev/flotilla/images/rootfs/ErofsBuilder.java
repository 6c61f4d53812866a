package dev.flotilla.images.rootfs;

import dev.flotilla.images.ImageException;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.UUID;

/**
 * Builds a read-only erofs image from a directory with erofs-utils' {@code mkfs.erofs}.
 *
 * <p>Why erofs rather than ext4: the guest mounts the root filesystem read-only with an overlay on
 * top, which is exactly what erofs is for. {@code mkfs.erofs} needs no size up front (ext4's
 * {@code mke2fs -d} does, so we would have to estimate blocks and inodes), writes no journal or
 * free-space bookkeeping (a smaller image), and keeps owners, full modes, hard links, FIFOs,
 * device nodes and times from the directory. The guest kernel is built with CONFIG_EROFS_FS.
 * Data is stored uncompressed: guest reads then cost no decompression, and the store's layers
 * stay compressed anyway.
 */
public final class ErofsBuilder {
    private static final int LOG_TAIL = 2000;

    private final String mkfsCommand;

    /** @param mkfsCommand {@code mkfs.erofs}, or a path to it */
    public ErofsBuilder(String mkfsCommand) {
        this.mkfsCommand = mkfsCommand;
    }

    /**
     * Writes the image of {@code sourceDir} to {@code output} (which must not exist).
     *
     * @param uuid filesystem UUID, derived by the caller from the image digest so one image
     *             always gets the same UUID
     * @param log  where mkfs's output goes; its tail is quoted when mkfs fails
     */
    public void build(Path sourceDir, Path output, UUID uuid, Path log, String what) throws IOException {
        List<String> command = List.of(mkfsCommand, "--quiet", "--preserve-mtime", "-U" + uuid, output.toString(), sourceDir.toString());
        Process process;
        try {
            process = new ProcessBuilder(command).redirectErrorStream(true).redirectOutput(log.toFile()).start();
        } catch (IOException e) {
            throw new ImageException("cannot run " + mkfsCommand + " to build the root filesystem of " + what
                    + " (is Debian's erofs-utils installed?): " + e.getMessage(), e);
        }
        int exit;
        try {
            exit = process.waitFor();
        } catch (InterruptedException e) {
            process.destroyForcibly();
            Thread.currentThread().interrupt();
            throw new ImageException("interrupted while building the root filesystem of " + what, e);
        }
        if (exit != 0) {
            String output1 = Files.exists(log) ? Files.readString(log, StandardCharsets.UTF_8) : "";
            String tail = output1.length() > LOG_TAIL ? output1.substring(output1.length() - LOG_TAIL) : output1;
            throw new ImageException(mkfsCommand + " failed (exit " + exit + ") building the root filesystem of " + what + ": " + tail.strip());
        }
    }
}
