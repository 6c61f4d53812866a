package dev.flotilla.vmm.memory;

import dev.flotilla.vmm.arch.x86_64.Layout;
import org.junit.jupiter.api.Test;

import java.util.List;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;

class GuestRamTest {

    @Test
    void ranges_belowMmioHole_isOneRegionFromZero() {
        List<long[]> r = GuestRam.ranges(256L << 20);
        assertEquals(1, r.size());
        assertArrayEquals(new long[]{0, 256L << 20}, r.get(0));
    }

    @Test
    void ranges_largerThanHoleStart_continuesAbove4GiB() {
        List<long[]> r = GuestRam.ranges(4L << 30);
        assertEquals(2, r.size());
        assertArrayEquals(new long[]{0, Layout.MMIO_HOLE_START}, r.get(0));
        assertArrayEquals(new long[]{Layout.MMIO_HOLE_END, (4L << 30) - Layout.MMIO_HOLE_START}, r.get(1));
    }

    @Test
    void allocate_largeGuest_mapsLazilyAndLeavesTheHoleUnbacked() {
        try (GuestRam ram = GuestRam.allocate(5L << 30)) { // MAP_NORESERVE: costs nothing until touched
            GuestMemory m = ram.memory();
            m.writeLong(Layout.MMIO_HOLE_END, 0x1122334455667788L);
            assertEquals(0x1122334455667788L, m.readLong(Layout.MMIO_HOLE_END));
            assertFalse(m.contains(Layout.BOOT_TIMER_ADDR, 1));
            assertThrows(GuestMemoryException.class, () -> m.readByte(Layout.BOOT_TIMER_ADDR));
            assertEquals(5L << 30, m.totalSize());
        }
    }

    /** Before the arena, the mapping was gone but the segment was not: this read killed the JVM with SIGSEGV. */
    @Test
    void memory_afterClose_throwsInsteadOfFaulting() {
        GuestRam ram = GuestRam.allocate(1 << 20);
        GuestMemory m = ram.memory();
        m.writeInt(4096, 42);
        java.lang.foreign.MemorySegment slice = m.slice(4096, 4);
        ram.close();
        assertThrows(IllegalStateException.class, () -> m.readInt(4096));
        assertThrows(IllegalStateException.class, () -> m.write(0, new byte[8], 0, 8));
        assertThrows(IllegalStateException.class, () -> slice.get(java.lang.foreign.ValueLayout.JAVA_INT, 0));
    }

    @Test
    void prefault_backsExactlyThePagesAboutToBeWritten() {
        try (GuestRam ram = GuestRam.allocate(64L << 20)) {
            long before = ram.residentBytes();
            ram.memory().prefault(0x100_000 + 10, 3 * 4096); // unaligned: four pages
            long added = ram.residentBytes() - before;
            // MADV_POPULATE_WRITE needs Linux 5.14+ (on older kernels prefault does nothing, and must not fail).
            assertEquals(4 * 4096, added, "resident bytes added");
            assertEquals(0, ram.memory().readLong(0x100_000), "prefaulted memory reads as zero");
        }
    }

    @Test
    void allocate_withHugePages_worksAndReadsZero() {
        try (GuestRam ram = GuestRam.allocate(16L << 20, true)) {
            ram.memory().writeLong(8L << 20, 42);
            assertEquals(42, ram.memory().readLong(8L << 20));
            assertEquals(0, ram.memory().readLong(4L << 20));
        }
    }

    @Test
    void allocate_unalignedSize_isRejected() {
        assertThrows(IllegalArgumentException.class, () -> GuestRam.allocate(4097));
    }
}
