package dev.flotilla.images.store;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.StandardOpenOption;

/**
 * Publishing files so that a crash at any moment leaves either the old state or the complete new
 * file: write to a temporary file on the same filesystem, fsync it, rename it over the target,
 * fsync the directory (so the rename itself survives a power cut).
 */
public final class AtomicFiles {
    private AtomicFiles() {
    }

    /** Writes {@code data} to {@code target} atomically, staging it in {@code tmpDir}. */
    public static void write(Path target, byte[] data, Path tmpDir) throws IOException {
        Path tmp = Files.createTempFile(tmpDir, "write-", ".part");
        try {
            try (FileChannel out = FileChannel.open(tmp, StandardOpenOption.WRITE)) {
                ByteBuffer buffer = ByteBuffer.wrap(data);
                while (buffer.hasRemaining()) {
                    out.write(buffer);
                }
                out.force(true);
            }
            publish(tmp, target);
        } finally {
            Files.deleteIfExists(tmp);
        }
    }

    /** Renames a complete, already fsynced {@code staged} file to {@code target} and syncs the directory. */
    public static void publish(Path staged, Path target) throws IOException {
        Files.createDirectories(target.getParent());
        Files.move(staged, target, StandardCopyOption.ATOMIC_MOVE, StandardCopyOption.REPLACE_EXISTING);
        syncDirectory(target.getParent());
    }

    /** fsyncs a file's data and metadata. */
    public static void sync(Path file) throws IOException {
        try (FileChannel channel = FileChannel.open(file, StandardOpenOption.READ)) {
            channel.force(true);
        }
    }

    /** fsyncs a directory so that entries renamed into it are durable. */
    public static void syncDirectory(Path dir) throws IOException {
        try (FileChannel channel = FileChannel.open(dir, StandardOpenOption.READ)) {
            channel.force(true);
        }
    }
}
