package dev.flotilla.vmm.sys;

import org.junit.jupiter.api.Test;

import static org.junit.jupiter.api.Assertions.assertEquals;

/**
 * Every struct size, field offset and ioctl number of {@link KvmAbi}, compared with the values a
 * C compiler gives for /usr/include/linux/kvm.h (Debian 12, linux-libc-dev 6.1). The expected
 * numbers below were printed once by a small C program using sizeof/offsetof and the _IO* macros
 * against those headers, and are hard-coded here on purpose.
 */
class KvmAbiTest {

    @Test
    void kvmRegs_layout_matchesKernelHeaders() {
        assertEquals(144, KvmAbi.Regs.LAYOUT.byteSize());
        assertEquals(0, KvmAbi.Regs.RAX);
        assertEquals(8, KvmAbi.Regs.RBX);
        assertEquals(32, KvmAbi.Regs.RSI);
        assertEquals(48, KvmAbi.Regs.RSP);
        assertEquals(128, KvmAbi.Regs.RIP);
        assertEquals(136, KvmAbi.Regs.RFLAGS);
    }

    @Test
    void kvmSegment_layout_matchesKernelHeaders() {
        assertEquals(24, KvmAbi.Segment.LAYOUT.byteSize());
        assertEquals(0, KvmAbi.Segment.BASE);
        assertEquals(8, KvmAbi.Segment.LIMIT);
        assertEquals(12, KvmAbi.Segment.SELECTOR);
        assertEquals(14, KvmAbi.Segment.TYPE);
        assertEquals(15, KvmAbi.Segment.PRESENT);
        assertEquals(16, KvmAbi.Segment.DPL);
        assertEquals(17, KvmAbi.Segment.DB);
        assertEquals(18, KvmAbi.Segment.S);
        assertEquals(19, KvmAbi.Segment.L);
        assertEquals(20, KvmAbi.Segment.G);
        assertEquals(21, KvmAbi.Segment.AVL);
        assertEquals(22, KvmAbi.Segment.UNUSABLE);
    }

    @Test
    void kvmDtable_layout_matchesKernelHeaders() {
        assertEquals(16, KvmAbi.Dtable.LAYOUT.byteSize());
        assertEquals(0, KvmAbi.Dtable.BASE);
        assertEquals(8, KvmAbi.Dtable.LIMIT);
    }

    @Test
    void kvmSregs_layout_matchesKernelHeaders() {
        assertEquals(312, KvmAbi.Sregs.LAYOUT.byteSize());
        assertEquals(0, KvmAbi.Sregs.CS);
        assertEquals(24, KvmAbi.Sregs.DS);
        assertEquals(48, KvmAbi.Sregs.ES);
        assertEquals(72, KvmAbi.Sregs.FS);
        assertEquals(96, KvmAbi.Sregs.GS);
        assertEquals(120, KvmAbi.Sregs.SS);
        assertEquals(144, KvmAbi.Sregs.TR);
        assertEquals(168, KvmAbi.Sregs.LDT);
        assertEquals(192, KvmAbi.Sregs.GDT);
        assertEquals(208, KvmAbi.Sregs.IDT);
        assertEquals(224, KvmAbi.Sregs.CR0);
        assertEquals(232, KvmAbi.Sregs.CR2);
        assertEquals(240, KvmAbi.Sregs.CR3);
        assertEquals(248, KvmAbi.Sregs.CR4);
        assertEquals(256, KvmAbi.Sregs.CR8);
        assertEquals(264, KvmAbi.Sregs.EFER);
        assertEquals(272, KvmAbi.Sregs.APIC_BASE);
        assertEquals(280, KvmAbi.Sregs.INTERRUPT_BITMAP);
    }

    @Test
    void kvmRun_layout_matchesKernelHeaders() {
        assertEquals(2352, KvmAbi.Run.LAYOUT.byteSize());
        assertEquals(1, KvmAbi.Run.IMMEDIATE_EXIT);
        assertEquals(8, KvmAbi.Run.EXIT_REASON);
        assertEquals(32, KvmAbi.Run.IO_DIRECTION);
        assertEquals(33, KvmAbi.Run.IO_SIZE);
        assertEquals(34, KvmAbi.Run.IO_PORT);
        assertEquals(36, KvmAbi.Run.IO_COUNT);
        assertEquals(40, KvmAbi.Run.IO_DATA_OFFSET);
        assertEquals(32, KvmAbi.Run.MMIO_PHYS_ADDR);
        assertEquals(40, KvmAbi.Run.MMIO_DATA);
        assertEquals(48, KvmAbi.Run.MMIO_LEN);
        assertEquals(52, KvmAbi.Run.MMIO_IS_WRITE);
        assertEquals(32, KvmAbi.Run.FAIL_ENTRY_REASON);
        assertEquals(40, KvmAbi.Run.FAIL_ENTRY_CPU);
        assertEquals(32, KvmAbi.Run.INTERNAL_SUBERROR);
        assertEquals(36, KvmAbi.Run.INTERNAL_NDATA);
        assertEquals(40, KvmAbi.Run.INTERNAL_DATA);
        assertEquals(32, KvmAbi.Run.SYSTEM_EVENT_TYPE);
        assertEquals(36, KvmAbi.Run.SYSTEM_EVENT_NDATA);
        assertEquals(40, KvmAbi.Run.SYSTEM_EVENT_DATA);
        assertEquals(32, KvmAbi.Run.EX_EXCEPTION);
        assertEquals(36, KvmAbi.Run.EX_ERROR_CODE);
    }

    @Test
    void kvmUserspaceMemoryRegion_layout_matchesKernelHeaders() {
        assertEquals(32, KvmAbi.UserspaceMemoryRegion.LAYOUT.byteSize());
        assertEquals(0, KvmAbi.UserspaceMemoryRegion.SLOT);
        assertEquals(4, KvmAbi.UserspaceMemoryRegion.FLAGS);
        assertEquals(8, KvmAbi.UserspaceMemoryRegion.GUEST_PHYS_ADDR);
        assertEquals(16, KvmAbi.UserspaceMemoryRegion.MEMORY_SIZE);
        assertEquals(24, KvmAbi.UserspaceMemoryRegion.USERSPACE_ADDR);
    }

    @Test
    void kvmCpuid_layouts_matchKernelHeaders() {
        assertEquals(8, KvmAbi.Cpuid2.HEADER.byteSize());
        assertEquals(0, KvmAbi.Cpuid2.NENT);
        assertEquals(8, KvmAbi.Cpuid2.ENTRIES);
        assertEquals(40, KvmAbi.CpuidEntry2.LAYOUT.byteSize());
        assertEquals(0, KvmAbi.CpuidEntry2.FUNCTION);
        assertEquals(4, KvmAbi.CpuidEntry2.INDEX);
        assertEquals(8, KvmAbi.CpuidEntry2.FLAGS);
        assertEquals(12, KvmAbi.CpuidEntry2.EAX);
        assertEquals(16, KvmAbi.CpuidEntry2.EBX);
        assertEquals(20, KvmAbi.CpuidEntry2.ECX);
        assertEquals(24, KvmAbi.CpuidEntry2.EDX);
    }

    @Test
    void kvmMsrs_layouts_matchKernelHeaders() {
        assertEquals(8, KvmAbi.Msrs.HEADER.byteSize());
        assertEquals(0, KvmAbi.Msrs.NMSRS);
        assertEquals(8, KvmAbi.Msrs.ENTRIES);
        assertEquals(16, KvmAbi.MsrEntry.LAYOUT.byteSize());
        assertEquals(0, KvmAbi.MsrEntry.INDEX);
        assertEquals(8, KvmAbi.MsrEntry.DATA);
    }

    @Test
    void kvmIrqStructs_layouts_matchKernelHeaders() {
        assertEquals(64, KvmAbi.PitConfig.LAYOUT.byteSize());
        assertEquals(0, KvmAbi.PitConfig.FLAGS);
        assertEquals(8, KvmAbi.IrqLevel.LAYOUT.byteSize());
        assertEquals(0, KvmAbi.IrqLevel.IRQ);
        assertEquals(4, KvmAbi.IrqLevel.LEVEL);
        assertEquals(32, KvmAbi.Irqfd.LAYOUT.byteSize());
        assertEquals(0, KvmAbi.Irqfd.FD);
        assertEquals(4, KvmAbi.Irqfd.GSI);
        assertEquals(8, KvmAbi.Irqfd.FLAGS);
        assertEquals(12, KvmAbi.Irqfd.RESAMPLEFD);
        assertEquals(64, KvmAbi.Ioeventfd.LAYOUT.byteSize());
        assertEquals(0, KvmAbi.Ioeventfd.DATAMATCH);
        assertEquals(8, KvmAbi.Ioeventfd.ADDR);
        assertEquals(16, KvmAbi.Ioeventfd.LEN);
        assertEquals(20, KvmAbi.Ioeventfd.FD);
        assertEquals(24, KvmAbi.Ioeventfd.FLAGS);
    }

    @Test
    void kvmLapicFpuSignalMask_layouts_matchKernelHeaders() {
        assertEquals(1024, KvmAbi.LapicState.LAYOUT.byteSize());
        assertEquals(0, KvmAbi.LapicState.REGS);
        assertEquals(416, KvmAbi.Fpu.LAYOUT.byteSize());
        assertEquals(128, KvmAbi.Fpu.FCW);
        assertEquals(130, KvmAbi.Fpu.FSW);
        assertEquals(132, KvmAbi.Fpu.FTWX);
        assertEquals(134, KvmAbi.Fpu.LAST_OPCODE);
        assertEquals(136, KvmAbi.Fpu.LAST_IP);
        assertEquals(144, KvmAbi.Fpu.LAST_DP);
        assertEquals(152, KvmAbi.Fpu.XMM);
        assertEquals(408, KvmAbi.Fpu.MXCSR);
        assertEquals(0, KvmAbi.SignalMask.LEN);
        assertEquals(4, KvmAbi.SignalMask.SIGSET);
    }

    @Test
    void systemIoctls_numbers_matchKernelHeaders() {
        assertEquals(0xae00L, KvmAbi.KVM_GET_API_VERSION);
        assertEquals(0xae01L, KvmAbi.KVM_CREATE_VM);
        assertEquals(0xae03L, KvmAbi.KVM_CHECK_EXTENSION);
        assertEquals(0xae04L, KvmAbi.KVM_GET_VCPU_MMAP_SIZE);
        assertEquals(0xc008ae05L, KvmAbi.KVM_GET_SUPPORTED_CPUID);
    }

    @Test
    void vmIoctls_numbers_matchKernelHeaders() {
        assertEquals(0xae41L, KvmAbi.KVM_CREATE_VCPU);
        assertEquals(0x4020ae46L, KvmAbi.KVM_SET_USER_MEMORY_REGION);
        assertEquals(0xae47L, KvmAbi.KVM_SET_TSS_ADDR);
        assertEquals(0x4008ae48L, KvmAbi.KVM_SET_IDENTITY_MAP_ADDR);
        assertEquals(0xae60L, KvmAbi.KVM_CREATE_IRQCHIP);
        assertEquals(0x4008ae61L, KvmAbi.KVM_IRQ_LINE);
        assertEquals(0x4020ae76L, KvmAbi.KVM_IRQFD);
        assertEquals(0x4040ae77L, KvmAbi.KVM_CREATE_PIT2);
        assertEquals(0x4040ae79L, KvmAbi.KVM_IOEVENTFD);
    }

    @Test
    void vcpuIoctls_numbers_matchKernelHeaders() {
        assertEquals(0xae80L, KvmAbi.KVM_RUN);
        assertEquals(0x8090ae81L, KvmAbi.KVM_GET_REGS);
        assertEquals(0x4090ae82L, KvmAbi.KVM_SET_REGS);
        assertEquals(0x8138ae83L, KvmAbi.KVM_GET_SREGS);
        assertEquals(0x4138ae84L, KvmAbi.KVM_SET_SREGS);
        assertEquals(0xc008ae88L, KvmAbi.KVM_GET_MSRS);
        assertEquals(0x4008ae89L, KvmAbi.KVM_SET_MSRS);
        assertEquals(0x4004ae8bL, KvmAbi.KVM_SET_SIGNAL_MASK);
        assertEquals(0x81a0ae8cL, KvmAbi.KVM_GET_FPU);
        assertEquals(0x41a0ae8dL, KvmAbi.KVM_SET_FPU);
        assertEquals(0x8400ae8eL, KvmAbi.KVM_GET_LAPIC);
        assertEquals(0x4400ae8fL, KvmAbi.KVM_SET_LAPIC);
        assertEquals(0x4008ae90L, KvmAbi.KVM_SET_CPUID2);
    }

    @Test
    void exitReasons_values_matchKernelHeaders() {
        assertEquals(2, KvmAbi.KVM_EXIT_IO);
        assertEquals(5, KvmAbi.KVM_EXIT_HLT);
        assertEquals(6, KvmAbi.KVM_EXIT_MMIO);
        assertEquals(8, KvmAbi.KVM_EXIT_SHUTDOWN);
        assertEquals(9, KvmAbi.KVM_EXIT_FAIL_ENTRY);
        assertEquals(10, KvmAbi.KVM_EXIT_INTR);
        assertEquals(17, KvmAbi.KVM_EXIT_INTERNAL_ERROR);
        assertEquals(24, KvmAbi.KVM_EXIT_SYSTEM_EVENT);
    }
}
