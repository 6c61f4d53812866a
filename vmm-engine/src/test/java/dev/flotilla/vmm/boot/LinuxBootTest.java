package dev.flotilla.vmm.boot;

import dev.flotilla.vmm.arch.x86_64.BootGdt;
import dev.flotilla.vmm.arch.x86_64.E820Entry;
import dev.flotilla.vmm.arch.x86_64.Layout;
import dev.flotilla.vmm.arch.x86_64.MpTable;
import dev.flotilla.vmm.memory.GuestMemory;
import dev.flotilla.vmm.memory.MemoryRegion;
import dev.flotilla.vmm.memory.SegmentGuestMemory;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.lang.foreign.MemorySegment;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Optional;

import static org.junit.jupiter.api.Assertions.*;

class LinuxBootTest {

    private static final long MIB = 1 << 20;

    @TempDir
    Path dir;

    private Path kernel() throws Exception {
        Path p = dir.resolve("vmlinux");
        Files.write(p, new ElfImageBuilder().load(0x100_0000, new byte[0x100], 0x100).pvhEntry(0x100_0000).build());
        return p;
    }

    @Test
    void load_zeroVcpus_isRejected() throws Exception {
        Path k = kernel();
        BootException e = assertThrows(BootException.class,
                () -> LinuxBoot.load(SegmentGuestMemory.ofHeap(32 * MIB), new BootSpec(k, Optional.empty(), "", 0)));
        assertTrue(e.getMessage().contains("1 to 254 vCPUs"), e.getMessage());
    }

    @Test
    void load_255Vcpus_isRejected() throws Exception {
        Path k = kernel();
        assertThrows(BootException.class,
                () -> LinuxBoot.load(SegmentGuestMemory.ofHeap(32 * MIB), new BootSpec(k, Optional.empty(), "", 255)));
    }

    @Test
    void load_fourVcpus_writesMpTableWithFourProcessors() throws Exception {
        GuestMemory memory = SegmentGuestMemory.ofHeap(32 * MIB);
        LinuxBoot.load(memory, new BootSpec(kernel(), Optional.empty(), "", 4));
        assertEquals(0x5F50_4D5F, memory.readInt(Layout.MPTABLE_ADDR), "_MP_");
        long table = MpTable.CONFIG_TABLE_ADDR;
        for (int cpu = 0; cpu < 4; cpu++) {
            assertEquals(MpTable.ENTRY_PROCESSOR, memory.readByte(table + 44 + cpu * 20L), "entry " + cpu);
        }
        assertEquals(MpTable.ENTRY_BUS, memory.readByte(table + 44 + 4 * 20L), "the ISA bus follows the 4 processors");
    }

    @Test
    void load_writesGdtAtLayoutAddress() throws Exception {
        GuestMemory memory = SegmentGuestMemory.ofHeap(32 * MIB);
        LinuxBoot.load(memory, new BootSpec(kernel(), Optional.empty(), "", 1));
        assertEquals(BootGdt.CODE64_DESCRIPTOR, memory.readLong(Layout.GDT_ADDR + 0x10));
        assertEquals(BootGdt.DATA_DESCRIPTOR, memory.readLong(Layout.GDT_ADDR + 0x18));
    }

    @Test
    void load_memoryAboveFourGiB_isReportedAsRamAfterTheHole() throws Exception {
        GuestMemory memory = new SegmentGuestMemory(List.of(
                new MemoryRegion(0, MemorySegment.ofArray(new byte[(int) (32 * MIB)])),
                new MemoryRegion(Layout.MMIO_HOLE_END, MemorySegment.ofArray(new byte[(int) MIB]))));
        BootResult r = LinuxBoot.prepare(memory, new BootSpec(kernel(), Optional.empty(), "", 1));
        assertEquals(new E820Entry(Layout.MMIO_HOLE_END, MIB, E820Entry.Type.RAM), r.e820().getLast());
        assertEquals(4, memory.readInt(Layout.PVH_INFO_ADDR + 48));
        assertEquals(Layout.MMIO_HOLE_END, memory.readLong(Layout.PVH_MEMMAP_ADDR + 3 * 24));
    }

    @Test
    void load_memoryNotStartingAtZero_isRejected() throws Exception {
        GuestMemory memory = new SegmentGuestMemory(List.of(
                new MemoryRegion(Layout.HIMEM_START, MemorySegment.ofArray(new byte[(int) (32 * MIB)]))));
        Path k = kernel();
        BootException e = assertThrows(BootException.class,
                () -> LinuxBoot.load(memory, new BootSpec(k, Optional.empty(), "", 1)));
        assertTrue(e.getMessage().contains("from address 0"), e.getMessage());
    }

    @Test
    void load_overlongCmdline_isRejectedBeforeLoading() throws Exception {
        GuestMemory memory = SegmentGuestMemory.ofHeap(32 * MIB);
        Path k = kernel();
        assertThrows(BootException.class,
                () -> LinuxBoot.load(memory, new BootSpec(k, Optional.empty(), "x".repeat(Layout.CMDLINE_MAX), 1)));
        assertEquals(0, memory.readLong(Layout.GDT_ADDR + 0x10));
    }
}
