package dev.flotilla.vmm.memory;

import java.lang.foreign.MemorySegment;

/**
 * One contiguous range of guest RAM: guest physical address {@code guestAddress}, backed by
 * {@code segment} (an mmap'd host range for a VM, a heap array in unit tests).
 */
public record MemoryRegion(long guestAddress, MemorySegment segment) {

    public MemoryRegion {
        if (guestAddress < 0) {
            throw new IllegalArgumentException("guest address must not be negative: " + guestAddress);
        }
        if (segment.byteSize() == 0) {
            throw new IllegalArgumentException("a memory region must not be empty");
        }
    }

    public long size() {
        return segment.byteSize();
    }

    /** First guest physical address after this region. */
    public long end() {
        return guestAddress + segment.byteSize();
    }
}
