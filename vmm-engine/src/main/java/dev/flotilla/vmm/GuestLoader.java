package dev.flotilla.vmm;

import dev.flotilla.vmm.arch.x86_64.InitialCpuState;
import dev.flotilla.vmm.boot.BootException;
import dev.flotilla.vmm.boot.BootSpec;
import dev.flotilla.vmm.memory.GuestMemory;

import java.io.IOException;

/**
 * Puts a guest into memory and says how the boot CPU starts. {@link dev.flotilla.vmm.boot.LinuxBoot#load}
 * is the one MicroVm uses by default; other guests (tests' tiny machine-code guests) plug in here.
 */
@FunctionalInterface
public interface GuestLoader {
    InitialCpuState load(GuestMemory memory, BootSpec spec) throws IOException, BootException;
}
