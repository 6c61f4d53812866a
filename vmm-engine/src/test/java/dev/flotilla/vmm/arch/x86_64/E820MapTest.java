package dev.flotilla.vmm.arch.x86_64;

import org.junit.jupiter.api.Test;

import java.util.List;

import static dev.flotilla.vmm.arch.x86_64.E820Entry.Type.RAM;
import static dev.flotilla.vmm.arch.x86_64.E820Entry.Type.RESERVED;
import static org.junit.jupiter.api.Assertions.*;

class E820MapTest {

    private static final long MIB = 1 << 20;
    private static final long GIB = 1L << 30;

    @Test
    void build_128MiB_hasBaseRamMpTableAndHighRam() {
        List<E820Entry> map = E820Map.build(List.of(new E820Map.Backing(0, 128 * MIB)));
        assertEquals(List.of(
                new E820Entry(0, 0x9FC00, RAM),
                new E820Entry(0x9FC00, 0x400, RESERVED),
                new E820Entry(0x100000, 128 * MIB - 0x100000, RAM)), map);
    }

    @Test
    void build_128MiB_leavesLegacyHoleOut() {
        List<E820Entry> map = E820Map.build(List.of(new E820Map.Backing(0, 128 * MIB)));
        assertTrue(map.stream().noneMatch(e -> e.address() < 0x100000 && e.end() > 0xA0000));
    }

    @Test
    void build_4GiBSplitAroundHole_reportsRamAboveFourGiB() {
        // 4 GiB of guest RAM: 3 GiB below the MMIO hole, 1 GiB moved above 4 GiB.
        List<E820Entry> map = E820Map.build(List.of(
                new E820Map.Backing(0, 3 * GIB), new E820Map.Backing(4 * GIB, 5 * GIB)));
        assertEquals(List.of(
                new E820Entry(0, 0x9FC00, RAM),
                new E820Entry(0x9FC00, 0x400, RESERVED),
                new E820Entry(0x100000, 3 * GIB - 0x100000, RAM),
                new E820Entry(4 * GIB, GIB, RAM)), map);
    }

    @Test
    void build_backingRunningIntoTheHole_isCutAtTheHole() {
        List<E820Entry> map = E820Map.build(List.of(new E820Map.Backing(0, 5 * GIB)));
        assertEquals(new E820Entry(0x100000, Layout.MMIO_HOLE_START - 0x100000, RAM), map.get(2));
        assertEquals(new E820Entry(Layout.MMIO_HOLE_END, GIB, RAM), map.get(3));
    }

    @Test
    void build_entriesAreSortedAndDisjoint() {
        List<E820Entry> map = E820Map.build(List.of(
                new E820Map.Backing(4 * GIB, 6 * GIB), new E820Map.Backing(0, 3 * GIB)));
        for (int i = 1; i < map.size(); i++) {
            assertTrue(map.get(i - 1).end() <= map.get(i).address(), map.toString());
        }
    }

    @Test
    void lowRamEnd_isEndOfHighMemoryBelowHole() {
        assertEquals(3 * GIB, E820Map.lowRamEnd(E820Map.build(List.of(
                new E820Map.Backing(0, 3 * GIB), new E820Map.Backing(4 * GIB, 5 * GIB)))));
        assertEquals(128 * MIB, E820Map.lowRamEnd(E820Map.build(List.of(new E820Map.Backing(0, 128 * MIB)))));
    }

    @Test
    void lowRamEnd_withoutMemoryAboveOneMiB_isZero() {
        assertEquals(0, E820Map.lowRamEnd(E820Map.build(List.of(new E820Map.Backing(0, 0x80000)))));
    }
}
