package dev.flotilla.vmm.memory;

import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;

/**
 * {@link GuestMemory} over a fixed set of memory segments. Works for mmap'd host memory (a VM)
 * and for heap arrays (unit tests and fuzzing), which is why devices only ever see this interface.
 *
 * <p>Lookups scan a small sorted array (a VM has one or two regions: below and above the
 * 32-bit MMIO hole), and allocate nothing.
 */
public final class SegmentGuestMemory implements GuestMemory {

    private static final ValueLayout.OfShort SHORT = ValueLayout.JAVA_SHORT_UNALIGNED.withOrder(java.nio.ByteOrder.LITTLE_ENDIAN);
    private static final ValueLayout.OfInt INT = ValueLayout.JAVA_INT_UNALIGNED.withOrder(java.nio.ByteOrder.LITTLE_ENDIAN);
    private static final ValueLayout.OfLong LONG = ValueLayout.JAVA_LONG_UNALIGNED.withOrder(java.nio.ByteOrder.LITTLE_ENDIAN);

    private final List<MemoryRegion> regions;
    private final long[] starts;
    private final long[] ends;
    private final MemorySegment[] segments;
    private final long totalSize;

    public SegmentGuestMemory(List<MemoryRegion> regions) {
        if (regions.isEmpty()) {
            throw new IllegalArgumentException("guest memory needs at least one region");
        }
        List<MemoryRegion> sorted = new ArrayList<>(regions);
        sorted.sort(Comparator.comparingLong(MemoryRegion::guestAddress));
        this.regions = List.copyOf(sorted);
        int n = sorted.size();
        starts = new long[n];
        ends = new long[n];
        segments = new MemorySegment[n];
        long total = 0;
        for (int i = 0; i < n; i++) {
            MemoryRegion r = sorted.get(i);
            if (i > 0 && r.guestAddress() < ends[i - 1]) {
                throw new IllegalArgumentException("memory regions overlap at 0x%x".formatted(r.guestAddress()));
            }
            starts[i] = r.guestAddress();
            ends[i] = r.end();
            segments[i] = r.segment();
            total += r.size();
        }
        totalSize = total;
    }

    /** Heap-backed memory of {@code size} bytes at guest address 0, for tests and fuzzing. */
    public static SegmentGuestMemory ofHeap(long size) {
        return new SegmentGuestMemory(List.of(new MemoryRegion(0, MemorySegment.ofArray(new byte[Math.toIntExact(size)]))));
    }

    @Override
    public List<MemoryRegion> regions() {
        return regions;
    }

    @Override
    public long totalSize() {
        return totalSize;
    }

    @Override
    public boolean contains(long gpa, long length) {
        return indexOf(gpa, length) >= 0;
    }

    /** Index of the region holding the whole range, or -1. Overflow-safe. */
    private int indexOf(long gpa, long length) {
        if (gpa < 0 || length < 0) {
            return -1;
        }
        for (int i = 0; i < starts.length; i++) {
            if (gpa >= starts[i] && gpa < ends[i]) {
                return length <= ends[i] - gpa ? i : -1;
            }
        }
        return -1;
    }

    private int require(long gpa, long length) {
        int i = indexOf(gpa, length);
        if (i < 0) {
            throw new GuestMemoryException(gpa, length);
        }
        return i;
    }

    @Override
    public byte readByte(long gpa) {
        int i = require(gpa, 1);
        return segments[i].get(ValueLayout.JAVA_BYTE, gpa - starts[i]);
    }

    @Override
    public void writeByte(long gpa, byte value) {
        int i = require(gpa, 1);
        segments[i].set(ValueLayout.JAVA_BYTE, gpa - starts[i], value);
    }

    @Override
    public short readShort(long gpa) {
        int i = require(gpa, 2);
        return segments[i].get(SHORT, gpa - starts[i]);
    }

    @Override
    public void writeShort(long gpa, short value) {
        int i = require(gpa, 2);
        segments[i].set(SHORT, gpa - starts[i], value);
    }

    @Override
    public int readInt(long gpa) {
        int i = require(gpa, 4);
        return segments[i].get(INT, gpa - starts[i]);
    }

    @Override
    public void writeInt(long gpa, int value) {
        int i = require(gpa, 4);
        segments[i].set(INT, gpa - starts[i], value);
    }

    @Override
    public long readLong(long gpa) {
        int i = require(gpa, 8);
        return segments[i].get(LONG, gpa - starts[i]);
    }

    @Override
    public void writeLong(long gpa, long value) {
        int i = require(gpa, 8);
        segments[i].set(LONG, gpa - starts[i], value);
    }

    @Override
    public void read(long gpa, byte[] dst, int offset, int length) {
        java.util.Objects.checkFromIndexSize(offset, length, dst.length);
        int i = require(gpa, length);
        MemorySegment.copy(segments[i], ValueLayout.JAVA_BYTE, gpa - starts[i], dst, offset, length);
    }

    @Override
    public void write(long gpa, byte[] src, int offset, int length) {
        java.util.Objects.checkFromIndexSize(offset, length, src.length);
        int i = require(gpa, length);
        MemorySegment.copy(src, offset, segments[i], ValueLayout.JAVA_BYTE, gpa - starts[i], length);
    }

    @Override
    public void readLongs(long gpa, long[] dst, int count) {
        java.util.Objects.checkFromIndexSize(0, count, dst.length);
        int i = require(gpa, 8L * count);
        MemorySegment.copy(segments[i], LONG, gpa - starts[i], dst, 0, count);
    }

    @Override
    public long hostAddress(long gpa, long length) {
        int i = require(gpa, length);
        return segments[i].isNative() ? segments[i].address() + (gpa - starts[i]) : -1;
    }

    @Override
    public void zero(long gpa, long length) {
        int i = require(gpa, length);
        segments[i].asSlice(gpa - starts[i], length).fill((byte) 0);
    }

    @Override
    public MemorySegment slice(long gpa, long length) {
        int i = require(gpa, length);
        return segments[i].asSlice(gpa - starts[i], length);
    }

    @Override
    public void prefault(long gpa, long length) {
        int i = require(gpa, length);
        long from = (gpa - starts[i]) & -4096L;
        long to = Math.min(segments[i].byteSize(), (gpa - starts[i] + length + 4095) & -4096L);
        try {
            dev.flotilla.vmm.sys.Libc.madvise(segments[i].asSlice(from, to - from), dev.flotilla.vmm.sys.Libc.MADV_POPULATE_WRITE);
        } catch (RuntimeException e) {
            // Older kernels (EINVAL) or no memory to spare now: the copy faults the pages in as before.
        }
    }
}
