package dev.flotilla.vmm.arch.x86_64;

import dev.flotilla.vmm.memory.GuestMemory;
import dev.flotilla.vmm.memory.SegmentGuestMemory;
import org.junit.jupiter.api.Test;

import static org.junit.jupiter.api.Assertions.*;

class IdentityPageTablesTest {

    private final GuestMemory memory = SegmentGuestMemory.ofHeap(0x20000);

    /** Walks PML4 -> PDPT -> PD as the MMU does for a 2 MiB page (Intel SDM 4.5.4). */
    private long translate(long linear) {
        long pml4e = memory.readLong(Layout.PML4_ADDR + ((linear >>> 39) & 511) * 8);
        assertEquals(3, pml4e & 3, "PML4 entry present and writable");
        long pdpte = memory.readLong((pml4e & 0x000F_FFFF_FFFF_F000L) + ((linear >>> 30) & 511) * 8);
        assertEquals(1, pdpte & 1, "PDPT entry present for 0x%x".formatted(linear));
        assertEquals(0, pdpte & 0x80, "PDPT entry points at a PD, not a 1 GiB page");
        long pde = memory.readLong((pdpte & 0x000F_FFFF_FFFF_F000L) + ((linear >>> 21) & 511) * 8);
        assertEquals(0x83, pde & 0x83, "PD entry present, writable, 2 MiB page");
        return (pde & 0x000F_FFE0_0000L) | (linear & 0x1F_FFFF);
    }

    @Test
    void write_mapsLowAddressesToThemselves() {
        IdentityPageTables.write(memory);
        for (long a : new long[] {0, 0x7000, 0x100_0000 + 0x200, 0x3FFF_FFFFL}) {
            assertEquals(a, translate(a));
        }
    }

    @Test
    void write_mapsUpToFourGiB() {
        IdentityPageTables.write(memory);
        for (long a : new long[] {0x4000_0000L, 0xBFFF_F000L, 0xFEC0_0000L, 0xFFFF_FFFFL}) {
            assertEquals(a, translate(a));
        }
    }

    @Test
    void write_leavesAddressesFromFourGiBUnmapped() {
        IdentityPageTables.write(memory);
        assertEquals(0, memory.readLong(Layout.PDPT_ADDR + 4 * 8));
        assertEquals(0, memory.readLong(Layout.PML4_ADDR + 8));
    }

    @Test
    void pageDirectories_fitBelowTheCommandLine() {
        assertTrue(Layout.PD_ADDR + Layout.PD_COUNT * 4096L <= Layout.CMDLINE_ADDR);
    }
}
