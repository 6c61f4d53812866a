package dev.flotilla.vmm.boot;

import dev.flotilla.vmm.arch.x86_64.BootGdt;
import dev.flotilla.vmm.arch.x86_64.E820Entry;
import dev.flotilla.vmm.arch.x86_64.E820Map;
import dev.flotilla.vmm.arch.x86_64.IdentityPageTables;
import dev.flotilla.vmm.arch.x86_64.InitialCpuState;
import dev.flotilla.vmm.arch.x86_64.Layout;
import dev.flotilla.vmm.arch.x86_64.MpTable;
import dev.flotilla.vmm.arch.x86_64.Segment;
import dev.flotilla.vmm.memory.GuestMemory;

import java.io.IOException;
import java.util.HexFormat;
import java.util.List;

import static dev.flotilla.vmm.arch.x86_64.ControlRegisters.*;

/**
 * Loads an x86_64 Linux kernel into guest memory and returns the boot CPU's state: the kernel
 * (ELF through PVH, or bzImage through the 64-bit boot protocol), initrd, command line, zero page
 * or hvm_start_info with the e820 map, GDT, identity page tables and the MP table for SMP.
 * See the package documentation for the memory map and the two protocols.
 */
public final class LinuxBoot {
    private LinuxBoot() {}

    public static InitialCpuState load(GuestMemory memory, BootSpec spec) throws IOException, BootException {
        return prepare(memory, spec).cpu();
    }

    /** As {@link #load}, also telling where everything went. */
    public static BootResult prepare(GuestMemory memory, BootSpec spec) throws BootException {
        if (spec.vcpus() < 1 || spec.vcpus() > MpTable.MAX_VCPUS) {
            throw new BootException("a VM has 1 to %d vCPUs, not %d".formatted(MpTable.MAX_VCPUS, spec.vcpus()));
        }
        KernelCommandLine cmdline = KernelCommandLine.of(spec.cmdline());
        List<E820Entry> e820 = E820Map.forRegions(memory.regions());
        long lowRamEnd = E820Map.lowRamEnd(e820);
        if (!memory.contains(0, Layout.EBDA_END) || lowRamEnd == 0) {
            throw new BootException("guest memory must be one region from address 0 to beyond 1 MiB to boot Linux; it has %s"
                    .formatted(memory.regions().stream()
                            .map(r -> "[0x%x-0x%x)".formatted(r.guestAddress(), r.end())).toList()));
        }

        try (ImageFile kernel = ImageFile.open(spec.kernel(), "kernel")) {
            byte[] prefix = kernel.readPrefix(0x210);
            if (ElfKernel.isElf(prefix)) {
                ElfKernel.Loaded elf = ElfKernel.load(kernel, memory, lowRamEnd);
                Initrd initrd = loadInitrd(memory, spec, elf.end(), lowRamEnd);
                writeCommon(memory, cmdline, spec.vcpus());
                PvhStartInfo.write(memory, Layout.CMDLINE_ADDR, initrd, e820);
                return result(BootProtocol.PVH, pvhState(elf.entry()), elf.start(), elf.end(), initrd, e820);
            }
            if (BzImage.isBzImage(prefix)) {
                BzImage.Loaded bz = BzImage.load(kernel, memory, lowRamEnd);
                if (cmdline.length() > bz.cmdlineSize()) {
                    throw new BootException("kernel command line is %d bytes but kernel %s accepts at most %d (cmdline_size)"
                            .formatted(cmdline.length(), spec.kernel(), bz.cmdlineSize()));
                }
                // initrd_addr_max is the highest byte the initrd may occupy (boot.rst).
                long limit = Math.min(lowRamEnd, bz.initrdAddrMax() + 1);
                Initrd initrd = loadInitrd(memory, spec, bz.end(), limit);
                writeCommon(memory, cmdline, spec.vcpus());
                ZeroPage.write(memory, bz, Layout.CMDLINE_ADDR, initrd, e820);
                IdentityPageTables.write(memory);
                return result(BootProtocol.LINUX_64, longModeState(bz.entry()), bz.loadAddress(), bz.end(), initrd, e820);
            }
            throw new BootException("kernel %s is neither an ELF vmlinux nor a bzImage: it starts with bytes %s (an ELF file starts with 7f454c46, a bzImage has \"HdrS\" at offset 0x202)"
                    .formatted(spec.kernel(), HexFormat.of().formatHex(prefix, 0, Math.min(8, prefix.length))));
        }
    }

    private static Initrd loadInitrd(GuestMemory memory, BootSpec spec, long kernelEnd, long limit) throws BootException {
        return spec.initrd().isPresent() ? Initrd.load(spec.initrd().get(), memory, kernelEnd, limit) : null;
    }

    private static void writeCommon(GuestMemory memory, KernelCommandLine cmdline, int vcpus) {
        byte[] c = cmdline.toCString();
        memory.zero(Layout.CMDLINE_ADDR, Layout.CMDLINE_MAX);
        memory.write(Layout.CMDLINE_ADDR, c, 0, c.length);
        BootGdt.write(memory);
        MpTable.write(memory, vcpus);
    }

    private static BootResult result(BootProtocol protocol, InitialCpuState cpu, long start, long end, Initrd initrd,
                                     List<E820Entry> e820) {
        return new BootResult(protocol, cpu, start, end, initrd == null ? 0 : initrd.address(),
                initrd == null ? 0 : initrd.size(), e820);
    }

    /**
     * PVH entry (Xen docs/misc/pvh.pandoc, mirrored by Linux's arch/x86/platform/pvh/head.S
     * comment): 32-bit protected mode, paging off, CS flat 32-bit code, DS/ES/SS flat data,
     * TR a 32-bit TSS, %ebx = hvm_start_info, interrupts off.
     */
    static InitialCpuState pvhState(long entry) {
        Segment code = BootGdt.code32();
        Segment data = BootGdt.data();
        return new InitialCpuState(entry, Layout.BOOT_STACK_ADDR, 0, Layout.PVH_INFO_ADDR, RFLAGS_RESERVED,
                CR0_PE | CR0_ET, 0, 0, 0,
                code, data, data, data, data, data, BootGdt.tss(), BootGdt.noLdt(),
                Layout.GDT_ADDR, BootGdt.GDT_LIMIT, Layout.IDT_ADDR, BootGdt.IDT_LIMIT);
    }

    /**
     * 64-bit boot protocol entry (boot.rst, "64-bit Boot Protocol"): long mode with identity
     * paging, CS = __BOOT_CS (0x10) flat 64-bit code, DS/ES/SS = __BOOT_DS (0x18), interrupts
     * off, %rsi = boot_params.
     */
    static InitialCpuState longModeState(long entry) {
        Segment code = BootGdt.code64();
        Segment data = BootGdt.data();
        return new InitialCpuState(entry, Layout.BOOT_STACK_ADDR, Layout.ZERO_PAGE_ADDR, 0, RFLAGS_RESERVED,
                CR0_PE | CR0_ET | CR0_PG, Layout.PML4_ADDR, CR4_PAE, EFER_LME | EFER_LMA,
                code, data, data, data, data, data, BootGdt.tss(), BootGdt.noLdt(),
                Layout.GDT_ADDR, BootGdt.GDT_LIMIT, Layout.IDT_ADDR, BootGdt.IDT_LIMIT);
    }
}
