package dev.flotilla.vmm.devices.virtio.blk;

import dev.flotilla.vmm.sys.Libc;

import java.io.IOException;
import java.lang.foreign.MemorySegment;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;

/**
 * A disk that is a raw image file: sector n at byte n * 512. Reads and writes go through a
 * {@link FileChannel} straight between the file and guest memory (no copy through the Java heap);
 * discard and write-zeroes punch holes or zero ranges with fallocate(2). Called from the blocking
 * I/O executor, several requests at once (positional I/O, no shared position).
 */
public final class RawFileBackend implements AutoCloseable {

    /** A shared, never-written buffer of zeroes for file systems without FALLOC_FL_ZERO_RANGE. */
    private static final ByteBuffer ZEROES = ByteBuffer.allocateDirect(64 * 1024).asReadOnlyBuffer();

    private final Path path;
    private final boolean readOnly;
    private final FileChannel channel;
    /** A second fd on the same file for fallocate, which FileChannel does not offer; -1 when read-only. */
    private final int fallocateFd;
    private final long sizeBytes;

    public RawFileBackend(Path path, boolean readOnly) throws IOException {
        if (!Files.isRegularFile(path)) {
            throw new IOException("disk image " + path + " is not a regular file");
        }
        this.path = path;
        this.readOnly = readOnly;
        channel = readOnly
                ? FileChannel.open(path, StandardOpenOption.READ)
                : FileChannel.open(path, StandardOpenOption.READ, StandardOpenOption.WRITE);
        int fd = -1;
        try {
            sizeBytes = channel.size();
            if (!readOnly) {
                fd = Libc.open(path.toString(), Libc.O_RDWR | Libc.O_CLOEXEC);
            }
        } catch (IOException | RuntimeException e) {
            channel.close();
            throw e;
        }
        fallocateFd = fd;
    }

    public Path path() {
        return path;
    }

    public boolean readOnly() {
        return readOnly;
    }

    /** Whole 512-byte sectors in the file (a partial last sector is not reachable). */
    public long capacitySectors() {
        return sizeBytes / BlockLimits.SECTOR_SIZE;
    }

    /** Fills {@code target} from the file at {@code position}; bytes beyond the end of the file read as zero. */
    public void read(long position, MemorySegment target) throws IOException {
        ByteBuffer buffer = target.asByteBuffer();
        while (buffer.hasRemaining()) {
            int n = channel.read(buffer, position + buffer.position());
            if (n < 0) {
                target.asSlice(buffer.position()).fill((byte) 0);
                return;
            }
        }
    }

    public void write(long position, MemorySegment source) throws IOException {
        ByteBuffer buffer = source.asByteBuffer();
        while (buffer.hasRemaining()) {
            channel.write(buffer, position + buffer.position());
        }
    }

    /** Makes completed writes durable (fdatasync). */
    public void flush() throws IOException {
        if (!readOnly) {
            channel.force(false);
        }
    }

    /** Tells the file system the range is unused: punches a hole; a file system that cannot is left as it is. */
    public void discard(long position, long length) throws IOException {
        int rc = Libc.fallocateOrErrno(fallocateFd, Libc.FALLOC_FL_PUNCH_HOLE | Libc.FALLOC_FL_KEEP_SIZE, position, length);
        if (rc < 0 && rc != -Libc.EOPNOTSUPP) {
            throw new IOException("fallocate(PUNCH_HOLE) on %s at %d+%d failed: errno %d".formatted(path, position, length, -rc));
        }
    }

    /** Makes the range read as zeroes: a hole when {@code unmap} is allowed, else zeroed blocks. */
    public void writeZeroes(long position, long length, boolean unmap) throws IOException {
        int mode = unmap ? Libc.FALLOC_FL_PUNCH_HOLE | Libc.FALLOC_FL_KEEP_SIZE : Libc.FALLOC_FL_ZERO_RANGE | Libc.FALLOC_FL_KEEP_SIZE;
        int rc = Libc.fallocateOrErrno(fallocateFd, mode, position, length);
        if (rc == 0) {
            return;
        }
        if (rc != -Libc.EOPNOTSUPP) {
            throw new IOException("fallocate on %s at %d+%d failed: errno %d".formatted(path, position, length, -rc));
        }
        long done = 0;
        while (done < length) {
            ByteBuffer zeroes = ZEROES.duplicate();
            zeroes.limit((int) Math.min(zeroes.capacity(), length - done));
            done += channel.write(zeroes, position + done);
        }
    }

    @Override
    public void close() throws IOException {
        try {
            channel.close();
        } finally {
            if (fallocateFd >= 0) {
                Libc.close(fallocateFd);
            }
        }
    }
}
