package dev.flotilla.vmm.boot;

import dev.flotilla.vmm.arch.x86_64.E820Entry;
import dev.flotilla.vmm.arch.x86_64.Layout;
import dev.flotilla.vmm.memory.GuestMemory;

import java.util.List;

/**
 * Writes {@code struct hvm_start_info} (version 1) at {@link Layout#PVH_INFO_ADDR}, with its
 * module list (the initrd; Linux takes the first module as the ramdisk) and memory map. Layout
 * and semantics from xen/include/public/arch-x86/hvm/start_info.h (in Linux:
 * include/xen/interface/hvm/start_info.h); Linux reads it in arch/x86/platform/pvh/enlighten.c,
 * and a non-Xen guest without a memory map hits a BUG() there, so the map is always given.
 */
final class PvhStartInfo {
    private PvhStartInfo() {}

    static final int MAGIC = 0x336E_C578; // XEN_HVM_START_MAGIC_VALUE
    static final int VERSION = 1;
    static final int START_INFO_SIZE = 56;
    static final int MODLIST_ENTRY_SIZE = 32;
    static final int MEMMAP_ENTRY_SIZE = 24;
    static final int MAX_MEMMAP_ENTRIES = (int) ((Layout.ZERO_PAGE_ADDR - Layout.PVH_MEMMAP_ADDR) / MEMMAP_ENTRY_SIZE);

    static void write(GuestMemory memory, long cmdlineAddr, Initrd initrd, List<E820Entry> memmap) throws BootException {
        if (memmap.size() > MAX_MEMMAP_ENTRIES) {
            throw new BootException("the memory map has %d entries, more than the %d the PVH start info has room for"
                    .formatted(memmap.size(), MAX_MEMMAP_ENTRIES));
        }
        long at = Layout.PVH_INFO_ADDR;
        memory.zero(at, Layout.PVH_MEMMAP_ADDR - at);
        memory.writeInt(at, MAGIC);
        memory.writeInt(at + 4, VERSION);
        memory.writeInt(at + 8, 0);                       // flags
        memory.writeInt(at + 12, initrd == null ? 0 : 1); // nr_modules
        memory.writeLong(at + 16, initrd == null ? 0 : Layout.PVH_MODLIST_ADDR);
        memory.writeLong(at + 24, cmdlineAddr);
        memory.writeLong(at + 32, 0);                     // rsdp_paddr: no ACPI, SMP comes from the MP table
        memory.writeLong(at + 40, Layout.PVH_MEMMAP_ADDR);
        memory.writeInt(at + 48, memmap.size());
        memory.writeInt(at + 52, 0);                      // reserved
        if (initrd != null) {
            memory.writeLong(Layout.PVH_MODLIST_ADDR, initrd.address());
            memory.writeLong(Layout.PVH_MODLIST_ADDR + 8, initrd.size());
            memory.writeLong(Layout.PVH_MODLIST_ADDR + 16, 0); // no module command line
            memory.writeLong(Layout.PVH_MODLIST_ADDR + 24, 0);
        }
        for (int i = 0; i < memmap.size(); i++) {
            E820Entry e = memmap.get(i);
            long entry = Layout.PVH_MEMMAP_ADDR + (long) i * MEMMAP_ENTRY_SIZE;
            memory.writeLong(entry, e.address());
            memory.writeLong(entry + 8, e.size());
            memory.writeInt(entry + 16, e.type().code);
            memory.writeInt(entry + 20, 0);
        }
    }
}
