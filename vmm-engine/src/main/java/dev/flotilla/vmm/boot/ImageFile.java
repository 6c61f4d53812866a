package dev.flotilla.vmm.boot;

import dev.flotilla.vmm.memory.GuestMemory;

import java.io.IOException;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.channels.FileChannel;
import java.nio.file.AccessDeniedException;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.nio.file.attribute.BasicFileAttributes;

/**
 * A kernel or initrd file opened for loading. Reads are bounds-checked against the file's size
 * (a truncated or lying image is a {@link BootException}, not an exception from deep inside NIO),
 * and guest-memory copies come from the process's {@link ImageCache} or, for files too large to
 * cache, straight from the file into the guest's backing memory.
 */
final class ImageFile implements AutoCloseable {

    private final Path path;
    private final String role;
    private final FileChannel channel;
    private final long size;
    /** The whole file from the cache, or null to read through {@link #channel}. */
    private final MemorySegment contents;

    private ImageFile(Path path, String role, FileChannel channel, long size, MemorySegment contents) {
        this.path = path;
        this.role = role;
        this.channel = channel;
        this.size = size;
        this.contents = contents;
    }

    /** Opens {@code path}; {@code role} ("kernel", "initrd") goes into error messages. */
    static ImageFile open(Path path, String role) throws BootException {
        if (Files.isDirectory(path)) {
            throw new BootException("%s %s is a directory, not a file".formatted(role, path));
        }
        try {
            FileChannel channel = FileChannel.open(path, StandardOpenOption.READ);
            try {
                BasicFileAttributes attributes = Files.readAttributes(path, BasicFileAttributes.class);
                long size = channel.size();
                MemorySegment contents = attributes.size() == size && ImageCache.cacheable(size)
                        ? ImageCache.contents(path.toAbsolutePath().normalize(), attributes, channel) : null;
                return new ImageFile(path, role, channel, size, contents);
            } catch (IOException e) {
                channel.close();
                throw e;
            }
        } catch (NoSuchFileException e) {
            throw new BootException("%s %s does not exist".formatted(role, path), e);
        } catch (AccessDeniedException e) {
            throw new BootException("%s %s is not readable (permission denied)".formatted(role, path), e);
        } catch (IOException e) {
            throw new BootException("cannot open %s %s: %s".formatted(role, path, e.getMessage()), e);
        }
    }

    Path path() {
        return path;
    }

    long size() {
        return size;
    }

    /** Reads up to {@code length} bytes from the start (fewer if the file is shorter). */
    byte[] readPrefix(int length) throws BootException {
        return read(0, (int) Math.min(length, size));
    }

    /** Reads exactly {@code [offset, offset + length)}, which must lie within the file. */
    byte[] read(long offset, int length) throws BootException {
        requireWithin(offset, length, "data");
        if (contents != null) {
            return contents.asSlice(offset, length).toArray(ValueLayout.JAVA_BYTE);
        }
        ByteBuffer buffer = ByteBuffer.allocate(length);
        fill(buffer, offset);
        return buffer.array();
    }

    /** Copies {@code [offset, offset + length)} of the file to guest memory at {@code gpa}. */
    void copyTo(GuestMemory memory, long gpa, long offset, long length) throws BootException {
        requireWithin(offset, length, "data");
        memory.prefault(gpa, length);
        if (contents != null) {
            MemorySegment.copy(contents, offset, memory.slice(gpa, length), 0, length);
            return;
        }
        // Chunked, since a ByteBuffer view is limited to 2 GiB.
        long done = 0;
        while (done < length) {
            long chunk = Math.min(length - done, 1L << 30);
            fill(memory.slice(gpa + done, chunk).asByteBuffer(), offset + done);
            done += chunk;
        }
    }

    void requireWithin(long offset, long length, String what) throws BootException {
        if (offset < 0 || length < 0 || offset > size || length > size - offset) {
            throw new BootException("%s %s is truncated or corrupt: its %s at file offset 0x%x+0x%x lies beyond the end of the %d-byte file"
                    .formatted(role, path, what, offset, length, size));
        }
    }

    private void fill(ByteBuffer buffer, long offset) throws BootException {
        long position = offset;
        try {
            while (buffer.hasRemaining()) {
                int n = channel.read(buffer, position);
                if (n < 0) {
                    throw new BootException("%s %s ended early at offset %d (did it shrink while loading?)"
                            .formatted(role, path, position));
                }
                position += n;
            }
        } catch (IOException e) {
            throw new BootException("cannot read %s %s at offset %d: %s".formatted(role, path, position, e.getMessage()), e);
        }
    }

    static ByteBuffer littleEndian(byte[] bytes) {
        return ByteBuffer.wrap(bytes).order(ByteOrder.LITTLE_ENDIAN);
    }

    @Override
    public void close() {
        try {
            channel.close();
        } catch (IOException ignored) {
            // read-only file: nothing was written that a failed close could lose
        }
    }
}
