package dev.flotilla.vmm.memory;

import dev.flotilla.vmm.arch.x86_64.Layout;
import dev.flotilla.vmm.sys.Libc;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.util.ArrayList;
import java.util.List;

/**
 * A VM's RAM: anonymous private mappings with MAP_NORESERVE (host pages are only used once the
 * guest touches them), laid out around the 32-bit MMIO hole of {@link Layout}: up to
 * {@link Layout#MMIO_HOLE_START} from address 0, the rest from 4 GiB. Owns the mappings and
 * unmaps them on {@link #close()}.
 *
 * <p>The mappings' segments belong to a shared arena whose cleanup is the munmap: closing it
 * first invalidates every segment (a handshake with all threads, so none is mid-access), then
 * unmaps. A late access through the {@link GuestMemory} view, e.g. {@code MicroVm.memory()} kept
 * past {@code close()}, throws IllegalStateException instead of faulting on unmapped memory and
 * killing the JVM with SIGSEGV.
 */
public final class GuestRam implements AutoCloseable {

    private final Arena arena;
    private final List<MemoryRegion> regions;
    private final SegmentGuestMemory memory;
    private boolean closed;

    private GuestRam(Arena arena, List<MemoryRegion> regions) {
        this.arena = arena;
        this.regions = List.copyOf(regions);
        this.memory = new SegmentGuestMemory(regions);
    }

    /** Maps {@code bytes} of guest RAM (a positive multiple of 4 KiB) with 4 KiB pages. */
    public static GuestRam allocate(long bytes) {
        return allocate(bytes, false);
    }

    /**
     * Maps {@code bytes} of guest RAM; with {@code hugePages}, asks for transparent huge pages
     * (MADV_HUGEPAGE, as QEMU does for guest RAM): far fewer faults and TLB misses for a Linux guest,
     * but every 2 MiB region the guest touches becomes resident in full, which costs density for
     * guests that touch little. Silently 4 KiB pages where the host has THP off.
     */
    public static GuestRam allocate(long bytes, boolean hugePages) {
        if (bytes <= 0 || (bytes & 0xFFF) != 0) {
            throw new IllegalArgumentException("guest RAM must be a positive multiple of 4 KiB, not " + bytes + " bytes");
        }
        List<MemoryRegion> regions = new ArrayList<>(2);
        Arena arena = Arena.ofShared();
        try {
            for (long[] range : ranges(bytes)) {
                MemorySegment mapping = Libc.mmapAnonymous(range[1]).reinterpret(arena, Libc::munmap);
                regions.add(new MemoryRegion(range[0], mapping));
                if (hugePages) {
                    try {
                        Libc.madvise(mapping, Libc.MADV_HUGEPAGE);
                    } catch (RuntimeException e) {
                        // THP compiled out (EINVAL): 4 KiB pages, as without the option.
                    }
                }
            }
        } catch (RuntimeException e) {
            arena.close(); // unmaps what was mapped
            throw e;
        }
        return new GuestRam(arena, regions);
    }

    /** The guest ranges {start, size} that {@code bytes} of RAM occupy, split around the MMIO hole. */
    static List<long[]> ranges(long bytes) {
        if (bytes <= Layout.MMIO_HOLE_START) {
            return List.of(new long[]{0, bytes});
        }
        return List.of(new long[]{0, Layout.MMIO_HOLE_START},
                new long[]{Layout.MMIO_HOLE_END, bytes - Layout.MMIO_HOLE_START});
    }

    public List<MemoryRegion> regions() {
        return regions;
    }

    public GuestMemory memory() {
        return memory;
    }

    /**
     * Bytes of guest RAM resident in host memory now (mincore(2) over every region): what the
     * guest costs the host, which a balloon or free page reporting brings down.
     */
    public synchronized long residentBytes() {
        if (closed) {
            throw new IllegalStateException("guest RAM is closed");
        }
        long resident = 0;
        for (MemoryRegion r : regions) {
            long pages = (r.segment().byteSize() + 4095) / 4096;
            try (Arena call = Arena.ofConfined()) {
                java.lang.foreign.MemorySegment vector = call.allocate(pages);
                Libc.mincore(r.segment(), vector);
                for (long i = 0; i < pages; i++) {
                    if ((vector.get(java.lang.foreign.ValueLayout.JAVA_BYTE, i) & 1) != 0) {
                        resident += 4096;
                    }
                }
            }
        }
        return resident;
    }

    @Override
    public synchronized void close() {
        if (closed) {
            return;
        }
        closed = true;
        arena.close(); // invalidates the segments, then munmaps each
    }
}
