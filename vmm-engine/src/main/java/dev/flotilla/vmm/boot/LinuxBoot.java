package dev.flotilla.vmm.boot;

import dev.flotilla.vmm.arch.x86_64.InitialCpuState;
import dev.flotilla.vmm.memory.GuestMemory;

import java.io.IOException;

/**
 * Loads an x86_64 Linux kernel into guest memory and returns the boot CPU's state: the kernel
 * (ELF through PVH, or bzImage through the 64-bit boot protocol), initrd, command line, zero page
 * or hvm_start_info with the e820 map, GDT, identity page tables and the MP table for SMP.
 */
public final class LinuxBoot {
    private LinuxBoot() {}

    public static InitialCpuState load(GuestMemory memory, BootSpec spec) throws IOException, BootException {
        throw new UnsupportedOperationException("not implemented yet");
    }
}
