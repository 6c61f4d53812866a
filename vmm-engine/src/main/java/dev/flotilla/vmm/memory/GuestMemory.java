package dev.flotilla.vmm.memory;

import java.lang.foreign.MemorySegment;
import java.util.List;

/**
 * The guest's physical memory as devices and loaders see it. Every access is bounds-checked:
 * an address (or a range) that is not backed by guest RAM throws {@link GuestMemoryException},
 * never touches host memory outside the guest's mapping.
 *
 * <p>All multi-byte values are little-endian (x86 and virtio byte order) and may be unaligned.
 * Implementations must not allocate on the scalar accessors: they sit on virtqueue hot paths.
 */
public interface GuestMemory {

    /** The regions of RAM, sorted by guest physical address, never overlapping. */
    List<MemoryRegion> regions();

    /** Total bytes of guest RAM over all regions. */
    long totalSize();

    /** True when {@code [gpa, gpa + length)} lies entirely inside one region. */
    boolean contains(long gpa, long length);

    byte readByte(long gpa);
    void writeByte(long gpa, byte value);
    short readShort(long gpa);
    void writeShort(long gpa, short value);
    int readInt(long gpa);
    void writeInt(long gpa, int value);
    long readLong(long gpa);
    void writeLong(long gpa, long value);

    void read(long gpa, byte[] dst, int offset, int length);
    void write(long gpa, byte[] src, int offset, int length);

    /**
     * Reads {@code count} little-endian 64-bit values from {@code [gpa, gpa + 8 * count)} into
     * {@code dst[0..count)} in one bulk copy: a descriptor table costs one access, not four per entry.
     */
    void readLongs(long gpa, long[] dst, int count);

    /**
     * The host address of {@code [gpa, gpa + length)}, which must lie within one region (else
     * {@link GuestMemoryException}), for passing guest buffers straight to a system call; -1 when
     * this memory is not native (a heap-backed test memory). Allocates nothing, unlike {@link #slice}.
     */
    long hostAddress(long gpa, long length);

    /**
     * Hint: {@code [gpa, gpa + length)} is about to be written in full (a kernel image being loaded),
     * so the host may back it now in one go instead of one page fault at a time. Never fails.
     */
    default void prefault(long gpa, long length) {
    }

    /** Fills {@code [gpa, gpa + length)} with zero bytes. */
    void zero(long gpa, long length);

    /**
     * A view of {@code [gpa, gpa + length)}; the range must lie within one region. Used for bulk
     * copies to and from files and sockets. The view is only valid while the memory is open.
     */
    MemorySegment slice(long gpa, long length);
}
