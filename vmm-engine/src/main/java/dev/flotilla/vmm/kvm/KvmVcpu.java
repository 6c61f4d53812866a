package dev.flotilla.vmm.kvm;

import dev.flotilla.vmm.arch.x86_64.InitialCpuState;
import dev.flotilla.vmm.arch.x86_64.Segment;
import dev.flotilla.vmm.sys.Errno;
import dev.flotilla.vmm.sys.KvmAbi;
import dev.flotilla.vmm.sys.Libc;
import dev.flotilla.vmm.sys.SyscallException;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.util.List;

/**
 * A vCPU fd and its mapped kvm_run area. Register and setup calls happen before the vCPU thread
 * starts; {@link #run()} and {@link #exit()} belong to the vCPU thread.
 */
public final class KvmVcpu implements AutoCloseable {

    /** APIC LVT delivery modes (Intel SDM vol. 3, 10.5.1). */
    private static final int APIC_MODE_NMI = 0b100;
    private static final int APIC_MODE_EXTINT = 0b111;

    private final int id;
    private final int fd;
    private final MemorySegment runArea;
    private final KvmRun exit;
    private boolean closed;

    KvmVcpu(int id, int fd, int mmapSize) {
        this.id = id;
        this.fd = fd;
        this.runArea = Libc.mmapShared(fd, mmapSize);
        this.exit = new KvmRun(runArea);
    }

    public int id() {
        return id;
    }

    /** The kvm_run view: why the last KVM_RUN returned, and the I/O data to serve. */
    public KvmRun exit() {
        return exit;
    }

    /**
     * KVM_RUN: enters the guest until the next exit to user space. Returns 0 when kvm_run holds an
     * exit, or {@code -EINTR} when a signal or immediate_exit interrupted it. Allocation-free.
     */
    public int run() {
        int rc = Libc.ioctlOrErrno(fd, KvmAbi.KVM_RUN);
        if (rc < 0 && rc != -Errno.EINTR && rc != -Errno.EAGAIN) {
            throw new SyscallException("ioctl(KVM_RUN) on vCPU " + id, -rc);
        }
        return rc == -Errno.EAGAIN ? -Errno.EINTR : rc;
    }

    /** KVM_GET_REGS. */
    public Registers getRegisters() {
        try (Arena call = Arena.ofConfined()) {
            MemorySegment s = call.allocate(KvmAbi.Regs.LAYOUT);
            Libc.ioctl(fd, KvmAbi.KVM_GET_REGS, s, "KVM_GET_REGS");
            return Registers.fromArray(s.toArray(ValueLayout.JAVA_LONG));
        }
    }

    /** KVM_SET_REGS. */
    public void setRegisters(Registers regs) {
        try (Arena call = Arena.ofConfined()) {
            MemorySegment s = call.allocate(KvmAbi.Regs.LAYOUT);
            MemorySegment.copy(regs.toArray(), 0, s, ValueLayout.JAVA_LONG, 0, KvmAbi.Regs.NAMES.length);
            Libc.ioctl(fd, KvmAbi.KVM_SET_REGS, s, "KVM_SET_REGS");
        }
    }

    /** KVM_GET_SREGS. */
    public SpecialRegisters getSpecialRegisters() {
        try (Arena call = Arena.ofConfined()) {
            MemorySegment s = call.allocate(KvmAbi.Sregs.LAYOUT);
            Libc.ioctl(fd, KvmAbi.KVM_GET_SREGS, s, "KVM_GET_SREGS");
            return new SpecialRegisters(
                    readSegment(s, KvmAbi.Sregs.CS), readSegment(s, KvmAbi.Sregs.DS), readSegment(s, KvmAbi.Sregs.ES),
                    readSegment(s, KvmAbi.Sregs.FS), readSegment(s, KvmAbi.Sregs.GS), readSegment(s, KvmAbi.Sregs.SS),
                    readSegment(s, KvmAbi.Sregs.TR), readSegment(s, KvmAbi.Sregs.LDT),
                    s.get(ValueLayout.JAVA_LONG, KvmAbi.Sregs.GDT + KvmAbi.Dtable.BASE),
                    Short.toUnsignedInt(s.get(ValueLayout.JAVA_SHORT, KvmAbi.Sregs.GDT + KvmAbi.Dtable.LIMIT)),
                    s.get(ValueLayout.JAVA_LONG, KvmAbi.Sregs.IDT + KvmAbi.Dtable.BASE),
                    Short.toUnsignedInt(s.get(ValueLayout.JAVA_SHORT, KvmAbi.Sregs.IDT + KvmAbi.Dtable.LIMIT)),
                    s.get(ValueLayout.JAVA_LONG, KvmAbi.Sregs.CR0), s.get(ValueLayout.JAVA_LONG, KvmAbi.Sregs.CR2),
                    s.get(ValueLayout.JAVA_LONG, KvmAbi.Sregs.CR3), s.get(ValueLayout.JAVA_LONG, KvmAbi.Sregs.CR4),
                    s.get(ValueLayout.JAVA_LONG, KvmAbi.Sregs.CR8), s.get(ValueLayout.JAVA_LONG, KvmAbi.Sregs.EFER),
                    s.get(ValueLayout.JAVA_LONG, KvmAbi.Sregs.APIC_BASE));
        }
    }

    /** KVM_SET_SREGS (with an empty pending-interrupt bitmap). */
    public void setSpecialRegisters(SpecialRegisters r) {
        try (Arena call = Arena.ofConfined()) {
            MemorySegment s = call.allocate(KvmAbi.Sregs.LAYOUT);
            writeSegment(s, KvmAbi.Sregs.CS, r.cs());
            writeSegment(s, KvmAbi.Sregs.DS, r.ds());
            writeSegment(s, KvmAbi.Sregs.ES, r.es());
            writeSegment(s, KvmAbi.Sregs.FS, r.fs());
            writeSegment(s, KvmAbi.Sregs.GS, r.gs());
            writeSegment(s, KvmAbi.Sregs.SS, r.ss());
            writeSegment(s, KvmAbi.Sregs.TR, r.tr());
            writeSegment(s, KvmAbi.Sregs.LDT, r.ldt());
            s.set(ValueLayout.JAVA_LONG, KvmAbi.Sregs.GDT + KvmAbi.Dtable.BASE, r.gdtBase());
            s.set(ValueLayout.JAVA_SHORT, KvmAbi.Sregs.GDT + KvmAbi.Dtable.LIMIT, (short) r.gdtLimit());
            s.set(ValueLayout.JAVA_LONG, KvmAbi.Sregs.IDT + KvmAbi.Dtable.BASE, r.idtBase());
            s.set(ValueLayout.JAVA_SHORT, KvmAbi.Sregs.IDT + KvmAbi.Dtable.LIMIT, (short) r.idtLimit());
            s.set(ValueLayout.JAVA_LONG, KvmAbi.Sregs.CR0, r.cr0());
            s.set(ValueLayout.JAVA_LONG, KvmAbi.Sregs.CR2, r.cr2());
            s.set(ValueLayout.JAVA_LONG, KvmAbi.Sregs.CR3, r.cr3());
            s.set(ValueLayout.JAVA_LONG, KvmAbi.Sregs.CR4, r.cr4());
            s.set(ValueLayout.JAVA_LONG, KvmAbi.Sregs.CR8, r.cr8());
            s.set(ValueLayout.JAVA_LONG, KvmAbi.Sregs.EFER, r.efer());
            s.set(ValueLayout.JAVA_LONG, KvmAbi.Sregs.APIC_BASE, r.apicBase());
            Libc.ioctl(fd, KvmAbi.KVM_SET_SREGS, s, "KVM_SET_SREGS");
        }
    }

    private static Segment readSegment(MemorySegment s, long at) {
        return new Segment(
                s.get(ValueLayout.JAVA_LONG, at + KvmAbi.Segment.BASE),
                s.get(ValueLayout.JAVA_INT, at + KvmAbi.Segment.LIMIT),
                Short.toUnsignedInt(s.get(ValueLayout.JAVA_SHORT, at + KvmAbi.Segment.SELECTOR)),
                s.get(ValueLayout.JAVA_BYTE, at + KvmAbi.Segment.TYPE),
                s.get(ValueLayout.JAVA_BYTE, at + KvmAbi.Segment.PRESENT) != 0,
                s.get(ValueLayout.JAVA_BYTE, at + KvmAbi.Segment.DPL),
                s.get(ValueLayout.JAVA_BYTE, at + KvmAbi.Segment.DB) != 0,
                s.get(ValueLayout.JAVA_BYTE, at + KvmAbi.Segment.S) != 0,
                s.get(ValueLayout.JAVA_BYTE, at + KvmAbi.Segment.L) != 0,
                s.get(ValueLayout.JAVA_BYTE, at + KvmAbi.Segment.G) != 0,
                s.get(ValueLayout.JAVA_BYTE, at + KvmAbi.Segment.AVL) != 0);
    }

    private static void writeSegment(MemorySegment s, long at, Segment seg) {
        s.set(ValueLayout.JAVA_LONG, at + KvmAbi.Segment.BASE, seg.base());
        s.set(ValueLayout.JAVA_INT, at + KvmAbi.Segment.LIMIT, seg.limit());
        s.set(ValueLayout.JAVA_SHORT, at + KvmAbi.Segment.SELECTOR, (short) seg.selector());
        s.set(ValueLayout.JAVA_BYTE, at + KvmAbi.Segment.TYPE, (byte) seg.type());
        s.set(ValueLayout.JAVA_BYTE, at + KvmAbi.Segment.PRESENT, (byte) (seg.present() ? 1 : 0));
        s.set(ValueLayout.JAVA_BYTE, at + KvmAbi.Segment.DPL, (byte) seg.dpl());
        s.set(ValueLayout.JAVA_BYTE, at + KvmAbi.Segment.DB, (byte) (seg.db() ? 1 : 0));
        s.set(ValueLayout.JAVA_BYTE, at + KvmAbi.Segment.S, (byte) (seg.s() ? 1 : 0));
        s.set(ValueLayout.JAVA_BYTE, at + KvmAbi.Segment.L, (byte) (seg.l() ? 1 : 0));
        s.set(ValueLayout.JAVA_BYTE, at + KvmAbi.Segment.G, (byte) (seg.g() ? 1 : 0));
        s.set(ValueLayout.JAVA_BYTE, at + KvmAbi.Segment.AVL, (byte) (seg.avl() ? 1 : 0));
        // A segment that is not present is unusable (what KVM itself reports for null selectors).
        s.set(ValueLayout.JAVA_BYTE, at + KvmAbi.Segment.UNUSABLE, (byte) (seg.present() ? 0 : 1));
    }

    /**
     * Applies the boot CPU state a loader chose: KVM_GET_SREGS, the loader's segments, tables and
     * control registers over it (keeping the APIC base KVM set), KVM_SET_SREGS, then KVM_SET_REGS.
     */
    public void applyInitialState(InitialCpuState s) {
        SpecialRegisters current = getSpecialRegisters();
        setSpecialRegisters(new SpecialRegisters(s.cs(), s.ds(), s.es(), s.fs(), s.gs(), s.ss(), s.tr(), s.ldt(),
                s.gdtBase(), s.gdtLimit(), s.idtBase(), s.idtLimit(),
                s.cr0(), 0, s.cr3(), s.cr4(), 0, s.efer(), current.apicBase()));
        setRegisters(new Registers(0, s.rbx(), 0, 0, s.rsi(), 0, s.rsp(), 0,
                0, 0, 0, 0, 0, 0, 0, 0, s.rip(), s.rflags() | 2));
    }

    /** KVM_SET_CPUID2: the CPUID table the guest sees on this vCPU. */
    public void setCpuid(List<CpuidEntry> entries) {
        try (Arena call = Arena.ofConfined()) {
            long entrySize = KvmAbi.CpuidEntry2.LAYOUT.byteSize();
            MemorySegment buf = call.allocate(KvmAbi.Cpuid2.ENTRIES + entries.size() * entrySize, 8);
            buf.set(ValueLayout.JAVA_INT, KvmAbi.Cpuid2.NENT, entries.size());
            for (int i = 0; i < entries.size(); i++) {
                CpuidEntry e = entries.get(i);
                long at = KvmAbi.Cpuid2.ENTRIES + i * entrySize;
                buf.set(ValueLayout.JAVA_INT, at + KvmAbi.CpuidEntry2.FUNCTION, e.function());
                buf.set(ValueLayout.JAVA_INT, at + KvmAbi.CpuidEntry2.INDEX, e.index());
                buf.set(ValueLayout.JAVA_INT, at + KvmAbi.CpuidEntry2.FLAGS, e.flags());
                buf.set(ValueLayout.JAVA_INT, at + KvmAbi.CpuidEntry2.EAX, e.eax());
                buf.set(ValueLayout.JAVA_INT, at + KvmAbi.CpuidEntry2.EBX, e.ebx());
                buf.set(ValueLayout.JAVA_INT, at + KvmAbi.CpuidEntry2.ECX, e.ecx());
                buf.set(ValueLayout.JAVA_INT, at + KvmAbi.CpuidEntry2.EDX, e.edx());
            }
            Libc.ioctl(fd, KvmAbi.KVM_SET_CPUID2, buf, "KVM_SET_CPUID2 on vCPU " + id);
        }
    }

    /** KVM_SET_MSRS: fails naming the first MSR KVM did not accept. */
    public void setMsrs(List<MsrEntry> msrs) {
        try (Arena call = Arena.ofConfined()) {
            MemorySegment buf = msrBuffer(call, msrs);
            int set = Libc.ioctl(fd, KvmAbi.KVM_SET_MSRS, buf, "KVM_SET_MSRS");
            if (set != msrs.size()) {
                throw new KvmException("KVM_SET_MSRS on vCPU %d: KVM rejected MSR 0x%x (set %d of %d)"
                        .formatted(id, msrs.get(set).index(), set, msrs.size()));
            }
        }
    }

    /** KVM_GET_MSRS: the current values of {@code indexes}, in order. */
    public long[] getMsrs(int... indexes) {
        try (Arena call = Arena.ofConfined()) {
            MemorySegment buf = msrBuffer(call, java.util.Arrays.stream(indexes).mapToObj(i -> new MsrEntry(i, 0)).toList());
            int got = Libc.ioctl(fd, KvmAbi.KVM_GET_MSRS, buf, "KVM_GET_MSRS");
            if (got != indexes.length) {
                throw new KvmException("KVM_GET_MSRS on vCPU %d: KVM cannot read MSR 0x%x".formatted(id, indexes[got]));
            }
            long[] values = new long[indexes.length];
            for (int i = 0; i < indexes.length; i++) {
                values[i] = buf.get(ValueLayout.JAVA_LONG,
                        KvmAbi.Msrs.ENTRIES + i * KvmAbi.MsrEntry.LAYOUT.byteSize() + KvmAbi.MsrEntry.DATA);
            }
            return values;
        }
    }

    private static MemorySegment msrBuffer(Arena arena, List<MsrEntry> msrs) {
        long entrySize = KvmAbi.MsrEntry.LAYOUT.byteSize();
        MemorySegment buf = arena.allocate(KvmAbi.Msrs.ENTRIES + msrs.size() * entrySize, 8);
        buf.set(ValueLayout.JAVA_INT, KvmAbi.Msrs.NMSRS, msrs.size());
        for (int i = 0; i < msrs.size(); i++) {
            long at = KvmAbi.Msrs.ENTRIES + i * entrySize;
            buf.set(ValueLayout.JAVA_INT, at + KvmAbi.MsrEntry.INDEX, msrs.get(i).index());
            buf.set(ValueLayout.JAVA_LONG, at + KvmAbi.MsrEntry.DATA, msrs.get(i).data());
        }
        return buf;
    }

    /** KVM_GET_LAPIC: the local APIC's register page (1 KiB). Needs the in-kernel irqchip. */
    public byte[] getLapic() {
        try (Arena call = Arena.ofConfined()) {
            MemorySegment s = call.allocate(KvmAbi.LapicState.LAYOUT);
            Libc.ioctl(fd, KvmAbi.KVM_GET_LAPIC, s, "KVM_GET_LAPIC");
            return s.toArray(ValueLayout.JAVA_BYTE);
        }
    }

    /** KVM_SET_LAPIC. */
    public void setLapic(byte[] regs) {
        if (regs.length != KvmAbi.LapicState.LAYOUT.byteSize()) {
            throw new IllegalArgumentException("a LAPIC register page is 1024 bytes, got " + regs.length);
        }
        try (Arena call = Arena.ofConfined()) {
            MemorySegment s = call.allocate(KvmAbi.LapicState.LAYOUT);
            MemorySegment.copy(regs, 0, s, ValueLayout.JAVA_BYTE, 0, regs.length);
            Libc.ioctl(fd, KvmAbi.KVM_SET_LAPIC, s, "KVM_SET_LAPIC");
        }
    }

    /**
     * Wires the local APIC's LINT0 to ExtINT (the PIC's output, as on a PC) and LINT1 to NMI,
     * what a PC BIOS does and what Linux expects to find (KVM_GET_LAPIC + KVM_SET_LAPIC).
     */
    public void configureLocalInterrupts() {
        byte[] regs = getLapic();
        setLvtDeliveryMode(regs, (int) KvmAbi.LapicState.LVT_LINT0, APIC_MODE_EXTINT);
        setLvtDeliveryMode(regs, (int) KvmAbi.LapicState.LVT_LINT1, APIC_MODE_NMI);
        setLapic(regs);
    }

    static void setLvtDeliveryMode(byte[] regs, int offset, int mode) {
        int v = (regs[offset] & 0xFF) | (regs[offset + 1] & 0xFF) << 8 | (regs[offset + 2] & 0xFF) << 16
                | (regs[offset + 3] & 0xFF) << 24;
        v = (v & ~0x700) | (mode << 8);
        regs[offset] = (byte) v;
        regs[offset + 1] = (byte) (v >>> 8);
        regs[offset + 2] = (byte) (v >>> 16);
        regs[offset + 3] = (byte) (v >>> 24);
    }

    /**
     * KVM_SET_SIGNAL_MASK: the signal mask in effect while this vCPU is inside KVM_RUN
     * ({@code kernelSigset} is the kernel's 64-bit sigset).
     */
    public void setSignalMask(long kernelSigset) {
        try (Arena call = Arena.ofConfined()) {
            MemorySegment s = call.allocate(KvmAbi.SignalMask.LAYOUT);
            s.set(ValueLayout.JAVA_INT, KvmAbi.SignalMask.LEN, KvmAbi.SignalMask.KERNEL_SIGSET_BYTES);
            s.set(ValueLayout.JAVA_LONG_UNALIGNED, KvmAbi.SignalMask.SIGSET, kernelSigset);
            Libc.ioctl(fd, KvmAbi.KVM_SET_SIGNAL_MASK, s, "KVM_SET_SIGNAL_MASK");
        }
    }

    /** Unmaps kvm_run and closes the fd. The vCPU thread must have finished. Idempotent. */
    @Override
    public synchronized void close() {
        if (closed) {
            return;
        }
        closed = true;
        Libc.munmap(runArea);
        Libc.close(fd);
    }
}
