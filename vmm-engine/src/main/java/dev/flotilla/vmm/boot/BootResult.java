package dev.flotilla.vmm.boot;

import dev.flotilla.vmm.arch.x86_64.E820Entry;
import dev.flotilla.vmm.arch.x86_64.InitialCpuState;

import java.util.List;

/**
 * What {@link LinuxBoot#prepare} put where: the boot CPU's state plus the placement facts a VMM
 * may log or check (kernel footprint, initrd, the e820 map the guest was given).
 * {@code initrdAddress} and {@code initrdSize} are 0 without an initrd.
 */
public record BootResult(BootProtocol protocol, InitialCpuState cpu, long kernelStart, long kernelEnd,
                         long initrdAddress, long initrdSize, List<E820Entry> e820) {
}
