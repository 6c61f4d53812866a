package dev.flotilla.vmm.boot;

import java.nio.file.Path;
import java.util.Optional;

/**
 * What to boot: a kernel image (ELF vmlinux with a PVH note, or a bzImage), an optional initrd,
 * the kernel command line (without the device entries the VMM appends) and the vCPU count
 * (needed for the MP table).
 */
public record BootSpec(Path kernel, Optional<Path> initrd, String cmdline, int vcpus) {
}
