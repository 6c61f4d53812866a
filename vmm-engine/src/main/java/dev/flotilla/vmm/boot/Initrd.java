package dev.flotilla.vmm.boot;

import dev.flotilla.vmm.memory.GuestMemory;

import java.nio.file.Path;

/**
 * Places the initial ramdisk: page aligned, as high as possible in low RAM (below the 32-bit
 * MMIO hole, and below the kernel's initrd_addr_max for a bzImage), where the kernel's early
 * allocations are least likely to need it moved, and never over the kernel's footprint.
 */
record Initrd(long address, long size) {

    static final long PAGE = 4096;

    /**
     * Loads {@code path} below {@code limit} (exclusive: the first byte it may not use) and above
     * {@code kernelEnd}.
     */
    static Initrd load(Path path, GuestMemory memory, long kernelEnd, long limit) throws BootException {
        try (ImageFile file = ImageFile.open(path, "initrd")) {
            long size = file.size();
            if (size == 0) {
                throw new BootException("initrd %s is empty".formatted(path));
            }
            long lowest = (kernelEnd + PAGE - 1) & -PAGE;
            long address = (limit - size) & -PAGE;
            if (size > limit || address < lowest) {
                throw new BootException(("initrd %s (%d MiB) does not fit in guest memory: it must lie between the kernel's end "
                        + "at 0x%x and 0x%x, which leaves %d MiB; give the VM more memory or use a smaller initrd")
                        .formatted(path, mib(size), lowest, limit, mib(Math.max(0, limit - lowest))));
            }
            file.copyTo(memory, address, 0, size);
            return new Initrd(address, size);
        }
    }

    private static long mib(long bytes) {
        return (bytes + (1 << 20) - 1) >> 20;
    }
}
