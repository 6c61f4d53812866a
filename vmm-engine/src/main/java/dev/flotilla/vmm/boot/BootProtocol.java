package dev.flotilla.vmm.boot;

/** How the kernel is entered. */
public enum BootProtocol {
    /** Xen PVH entry of an ELF vmlinux: 32-bit protected mode, paging off, %ebx = hvm_start_info. */
    PVH,
    /** Linux 64-bit boot protocol of a bzImage: long mode, identity paging, %rsi = boot_params. */
    LINUX_64
}
