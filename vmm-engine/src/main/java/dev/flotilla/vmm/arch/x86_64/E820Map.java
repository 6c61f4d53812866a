package dev.flotilla.vmm.arch.x86_64;

import dev.flotilla.vmm.memory.MemoryRegion;

import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;

/**
 * Builds the e820 map the guest sees, from where guest RAM is backed. One map serves both the
 * zero page (boot_params.e820_table) and the PVH memory map.
 *
 * <p>Backed memory is reported as RAM only in three windows: base memory below the MP table
 * ({@code [0, MPTABLE_ADDR)}), high memory up to the 32-bit MMIO hole
 * ({@code [HIMEM_START, MMIO_HOLE_START)}) and everything from 4 GiB. The last KiB of base memory
 * ({@code [MPTABLE_ADDR, EBDA_END)}) is reserved for the MP table, and the legacy VGA/BIOS hole
 * {@code [EBDA_END, HIMEM_START)} is left out: it is not RAM on a PC, and the kernel reserves
 * it itself.
 */
public final class E820Map {
    private E820Map() {}

    /** A backed range of guest physical memory, {@code [start, end)}. */
    public record Backing(long start, long end) {
        public Backing {
            if (start < 0 || end <= start) {
                throw new IllegalArgumentException("bad memory range 0x%x-0x%x".formatted(start, end));
            }
        }
    }

    private static final long[][] RAM_WINDOWS = {
            {0, Layout.MPTABLE_ADDR},
            {Layout.HIMEM_START, Layout.MMIO_HOLE_START},
            {Layout.MMIO_HOLE_END, Long.MAX_VALUE},
    };

    public static List<E820Entry> forRegions(List<MemoryRegion> regions) {
        return build(regions.stream().map(r -> new Backing(r.guestAddress(), r.end())).toList());
    }

    /** The e820 entries for memory backed at {@code backing}, sorted, adjacent RAM merged. */
    public static List<E820Entry> build(List<Backing> backing) {
        List<E820Entry> entries = new ArrayList<>();
        boolean mpTableBacked = false;
        for (Backing b : backing) {
            for (long[] window : RAM_WINDOWS) {
                long start = Math.max(b.start(), window[0]);
                long end = Math.min(b.end(), window[1]);
                if (start < end) {
                    entries.add(new E820Entry(start, end - start, E820Entry.Type.RAM));
                }
            }
            mpTableBacked |= b.start() <= Layout.MPTABLE_ADDR && b.end() >= Layout.EBDA_END;
        }
        if (mpTableBacked) {
            entries.add(new E820Entry(Layout.MPTABLE_ADDR, Layout.EBDA_END - Layout.MPTABLE_ADDR,
                    E820Entry.Type.RESERVED));
        }
        entries.sort(Comparator.comparingLong(E820Entry::address));
        List<E820Entry> merged = new ArrayList<>();
        for (E820Entry e : entries) {
            if (!merged.isEmpty()) {
                E820Entry last = merged.getLast();
                if (last.type() == e.type() && last.end() == e.address()) {
                    merged.set(merged.size() - 1, new E820Entry(last.address(), last.size() + e.size(), e.type()));
                    continue;
                }
            }
            merged.add(e);
        }
        return List.copyOf(merged);
    }

    /**
     * The end of the RAM entry that starts high memory (holds {@link Layout#HIMEM_START}): the
     * kernel and initrd must fit below it. Zero when there is no such entry.
     */
    public static long lowRamEnd(List<E820Entry> map) {
        for (E820Entry e : map) {
            if (e.type() == E820Entry.Type.RAM && e.address() <= Layout.HIMEM_START && e.end() > Layout.HIMEM_START) {
                return e.end();
            }
        }
        return 0;
    }
}
