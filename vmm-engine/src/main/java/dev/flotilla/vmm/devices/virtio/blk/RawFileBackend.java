package dev.flotilla.vmm.devices.virtio.blk;

import dev.flotilla.vmm.sys.Errno;
import dev.flotilla.vmm.sys.Iovec;
import dev.flotilla.vmm.sys.Libc;

import java.io.IOException;
import java.lang.foreign.MemorySegment;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;

/**
 * A disk that is a raw image file: sector n at byte n * 512. Reads and writes go straight between
 * the file and guest memory (no copy through the Java heap): one preadv/pwritev over a request's
 * segments when guest memory is native, a {@link FileChannel} call per segment otherwise;
 * discard and write-zeroes punch holes or zero ranges with fallocate(2). Called from the blocking
 * I/O executor, several requests at once (positional I/O, no shared position), and from the device's
 * event loop for I/O that cannot wait for a device: any I/O of a file in memory ({@link
 * #memoryBacked()}), reads of cached data ({@link #readVectoredIfCached}).
 */
public final class RawFileBackend implements AutoCloseable {

    /** A shared, never-written buffer of zeroes for file systems without FALLOC_FL_ZERO_RANGE. */
    private static final ByteBuffer ZEROES = ByteBuffer.allocateDirect(64 * 1024).asReadOnlyBuffer();

    private final Path path;
    private final boolean readOnly;
    private final FileChannel channel;
    /**
     * A second fd on the same file for what FileChannel does not offer: vectored positional I/O
     * (preadv/pwritev) and fallocate. Read-only when the disk is.
     */
    private final int fd;
    private final long sizeBytes;
    private final boolean memoryBacked;

    public RawFileBackend(Path path, boolean readOnly) throws IOException {
        if (!Files.isRegularFile(path)) {
            throw new IOException("disk image " + path + " is not a regular file");
        }
        this.path = path;
        this.readOnly = readOnly;
        channel = readOnly
                ? FileChannel.open(path, StandardOpenOption.READ)
                : FileChannel.open(path, StandardOpenOption.READ, StandardOpenOption.WRITE);
        try {
            sizeBytes = channel.size();
            memoryBacked = inMemoryFileSystem(path);
            fd = Libc.open(path.toString(), (readOnly ? Libc.O_RDONLY : Libc.O_RDWR) | Libc.O_CLOEXEC);
        } catch (IOException | RuntimeException e) {
            channel.close();
            throw e;
        }
    }

    public Path path() {
        return path;
    }

    public boolean readOnly() {
        return readOnly;
    }

    /**
     * True when the file lives in memory (tmpfs, ramfs): its reads and writes are memory copies that
     * never wait for a device, so the device may do them inline instead of handing them to a thread.
     */
    public boolean memoryBacked() {
        return memoryBacked;
    }

    /** Whether {@code path} lies on a file system in memory (tmpfs, ramfs). */
    static boolean inMemoryFileSystem(Path path) {
        try {
            String type = Files.getFileStore(path).type();
            return type.equals("tmpfs") || type.equals("ramfs");
        } catch (IOException e) {
            return false;
        }
    }

    /**
     * Reads as {@link #readVectored} if every byte is in the page cache, without waiting for a
     * device (preadv2 with RWF_NOWAIT): true when all {@code length} bytes were read. False when
     * the read would have waited, reached the end of the file, or the file system cannot tell (no
     * RWF_NOWAIT): then the buffers hold an unknown part of the data and the caller reads it again
     * with {@link #readVectored}. The entries are the caller's scratch, as there.
     */
    public boolean readVectoredIfCached(long position, MemorySegment iovecs, int count, long length) {
        int first = 0;
        long left = length;
        while (first < count && left > 0) {
            long n = Libc.preadv2OrErrno(fd, from(iovecs, first), count - first, position, Libc.RWF_NOWAIT);
            if (n == -Errno.EINTR) {
                continue;
            }
            if (n <= 0) {
                return false;
            }
            position += n;
            left -= n;
            first = consume(iovecs, first, count, n);
        }
        return left <= 0;
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

    /**
     * Reads from {@code position} into the {@code count} {@link Iovec} entries of {@code iovecs}
     * (native memory: host addresses of guest buffers) with one preadv(2) per call, where a read
     * per segment would cost a system call per 4 KiB page of a scattered guest buffer. Bytes
     * beyond the end of the file read as zero. The entries are the caller's scratch: a short read
     * rewrites the one it stopped in.
     */
    public void readVectored(long position, MemorySegment iovecs, int count) throws IOException {
        int first = 0;
        while (first < count) {
            long n = Libc.preadvOrErrno(fd, from(iovecs, first), count - first, position);
            if (n == -Errno.EINTR) {
                continue;
            }
            if (n < 0) {
                throw new IOException("preadv of %d segments from %s at %d failed: errno %d".formatted(count - first, path, position, -n));
            }
            if (n == 0) {
                for (int i = first; i < count; i++) {
                    MemorySegment.ofAddress(Iovec.base(iovecs, i)).reinterpret(Iovec.length(iovecs, i)).fill((byte) 0);
                }
                return;
            }
            position += n;
            first = consume(iovecs, first, count, n);
        }
    }

    /** Writes the {@code count} {@link Iovec} entries of {@code iovecs} at {@code position}, one pwritev(2) per call. */
    public void writeVectored(long position, MemorySegment iovecs, int count) throws IOException {
        int first = 0;
        while (first < count) {
            long n = Libc.pwritevOrErrno(fd, from(iovecs, first), count - first, position);
            if (n == -Errno.EINTR) {
                continue;
            }
            if (n <= 0) {
                throw new IOException("pwritev of %d segments to %s at %d failed: %s".formatted(count - first, path, position,
                        n == 0 ? "nothing written" : "errno " + -n));
            }
            position += n;
            first = consume(iovecs, first, count, n);
        }
    }

    private static MemorySegment from(MemorySegment iovecs, int first) {
        return first == 0 ? iovecs : iovecs.asSlice(first * Iovec.LAYOUT.byteSize());
    }

    /** Drops {@code n} transferred bytes from the front of entries [first, count); returns the new first. */
    static int consume(MemorySegment iovecs, int first, int count, long n) {
        while (first < count && n >= Iovec.length(iovecs, first)) {
            n -= Iovec.length(iovecs, first);
            first++;
        }
        if (n > 0) {
            Iovec.set(iovecs, first, Iovec.base(iovecs, first) + n, Iovec.length(iovecs, first) - n);
        }
        return first;
    }

    /** Makes completed writes durable (fdatasync). */
    public void flush() throws IOException {
        if (!readOnly) {
            channel.force(false);
        }
    }

    /** Tells the file system the range is unused: punches a hole; a file system that cannot is left as it is. */
    public void discard(long position, long length) throws IOException {
        int rc = Libc.fallocateOrErrno(fd, Libc.FALLOC_FL_PUNCH_HOLE | Libc.FALLOC_FL_KEEP_SIZE, position, length);
        if (rc < 0 && rc != -Libc.EOPNOTSUPP) {
            throw new IOException("fallocate(PUNCH_HOLE) on %s at %d+%d failed: errno %d".formatted(path, position, length, -rc));
        }
    }

    /** Makes the range read as zeroes: a hole when {@code unmap} is allowed, else zeroed blocks. */
    public void writeZeroes(long position, long length, boolean unmap) throws IOException {
        int mode = unmap ? Libc.FALLOC_FL_PUNCH_HOLE | Libc.FALLOC_FL_KEEP_SIZE : Libc.FALLOC_FL_ZERO_RANGE | Libc.FALLOC_FL_KEEP_SIZE;
        int rc = Libc.fallocateOrErrno(fd, mode, position, length);
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
            Libc.close(fd);
        }
    }
}
