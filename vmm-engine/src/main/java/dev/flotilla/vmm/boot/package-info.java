/**
 * Booting an x86_64 Linux kernel: putting the kernel, initrd, command line and the tables the
 * kernel reads into guest memory, and deciding the boot CPU's registers. Entry point:
 * {@link dev.flotilla.vmm.boot.LinuxBoot#load}; the vCPU layer applies the returned
 * {@link dev.flotilla.vmm.arch.x86_64.InitialCpuState} (CPUID and MSRs are its business).
 *
 * <h2>Two protocols, chosen by the image</h2>
 * <ul>
 * <li><b>PVH</b>, for an uncompressed ELF {@code vmlinux} built with CONFIG_PVH (what
 * Firecracker and QEMU's microvm boot fastest: no decompression). PT_LOAD segments go to their
 * physical addresses; the entry is the 32-bit physical address in the ELF note
 * XEN_ELFNOTE_PHYS32_ENTRY. The CPU starts in 32-bit protected mode with paging off and %ebx
 * pointing at {@code struct hvm_start_info} (version 1), which carries the command line, the
 * initrd as module 0 and the memory map (xen/include/public/arch-x86/hvm/start_info.h).</li>
 * <li><b>Linux 64-bit boot protocol</b>, for a {@code bzImage} with protocol 2.12+ and
 * XLF_KERNEL_64 (Documentation/x86/boot.rst). The protected-mode part is loaded at its
 * pref_address (or 1 MiB), entered at load address + 0x200 in long mode on identity-mapped page
 * tables, with %rsi pointing at {@code struct boot_params}, the zero page: the image's setup
 * header plus the loader's fields and the e820 table (Documentation/x86/zero-page.rst).</li>
 * </ul>
 *
 * <h2>Memory map</h2>
 * All addresses come from {@link dev.flotilla.vmm.arch.x86_64.Layout}. Below 1 MiB: GDT and
 * IDT at 0x500, hvm_start_info with its module list and memory map at 0x6000, zero page at
 * 0x7000, boot stack below 0x9000, page tables 0x9000-0xEFFF, command line at 0x20000, MP table at
 * 0x9FC00 (so SMP guests find their CPUs and IOAPIC without ACPI), and the legacy hole
 * 0xA0000-0x100000. The kernel goes at or above 1 MiB; the initrd at the top of RAM below the
 * 32-bit MMIO hole (3 GiB), page aligned, never over the kernel's footprint. The guest's e820
 * map (shared by both protocols) reports RAM below the MP table, the MP table's KiB as
 * reserved, RAM from 1 MiB to the hole and RAM above 4 GiB.
 *
 * <p>Every image is treated as hostile: sizes and offsets are checked against the file and
 * against guest memory before anything is copied, and a bad image, a missing initrd or an
 * overlong command line is a {@link dev.flotilla.vmm.boot.BootException} that names the file
 * and what is wrong.
 */
package dev.flotilla.vmm.boot;
