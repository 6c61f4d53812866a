package dev.flotilla.vmm.sys;

import java.lang.foreign.GroupLayout;
import java.lang.foreign.MemoryLayout;
import java.lang.foreign.StructLayout;
import java.lang.foreign.ValueLayout;

import static java.lang.foreign.MemoryLayout.PathElement.groupElement;
import static java.lang.foreign.MemoryLayout.paddingLayout;
import static java.lang.foreign.MemoryLayout.sequenceLayout;
import static java.lang.foreign.ValueLayout.JAVA_BYTE;
import static java.lang.foreign.ValueLayout.JAVA_INT;
import static java.lang.foreign.ValueLayout.JAVA_LONG;
import static java.lang.foreign.ValueLayout.JAVA_SHORT;

/**
 * The KVM user-space ABI for x86_64, written by hand from {@code linux/kvm.h} and
 * {@code asm/kvm.h} (no jextract): struct layouts with their field offsets, ioctl numbers,
 * capabilities and exit reasons. Tests compare every size, offset and number with values taken
 * from the kernel headers by a C compiler.
 */
public final class KvmAbi {
    private KvmAbi() {}

    private static final int KVMIO = 0xAE;

    private static long offset(GroupLayout layout, String... path) {
        MemoryLayout.PathElement[] elements = new MemoryLayout.PathElement[path.length];
        for (int i = 0; i < path.length; i++) {
            elements[i] = groupElement(path[i]);
        }
        return layout.byteOffset(elements);
    }

    /** {@code struct kvm_regs}: 18 general registers, rip, rflags. */
    public static final class Regs {
        private Regs() {}
        public static final String[] NAMES = {"rax", "rbx", "rcx", "rdx", "rsi", "rdi", "rsp", "rbp",
                "r8", "r9", "r10", "r11", "r12", "r13", "r14", "r15", "rip", "rflags"};
        public static final StructLayout LAYOUT;
        static {
            MemoryLayout[] fields = new MemoryLayout[NAMES.length];
            for (int i = 0; i < NAMES.length; i++) {
                fields[i] = JAVA_LONG.withName(NAMES[i]);
            }
            LAYOUT = MemoryLayout.structLayout(fields).withName("kvm_regs");
        }
        public static final long RAX = offset(LAYOUT, "rax");
        public static final long RBX = offset(LAYOUT, "rbx");
        public static final long RSI = offset(LAYOUT, "rsi");
        public static final long RSP = offset(LAYOUT, "rsp");
        public static final long RIP = offset(LAYOUT, "rip");
        public static final long RFLAGS = offset(LAYOUT, "rflags");
    }

    /** {@code struct kvm_segment}. */
    public static final class Segment {
        private Segment() {}
        public static final StructLayout LAYOUT = MemoryLayout.structLayout(
                JAVA_LONG.withName("base"), JAVA_INT.withName("limit"), JAVA_SHORT.withName("selector"),
                JAVA_BYTE.withName("type"), JAVA_BYTE.withName("present"), JAVA_BYTE.withName("dpl"),
                JAVA_BYTE.withName("db"), JAVA_BYTE.withName("s"), JAVA_BYTE.withName("l"),
                JAVA_BYTE.withName("g"), JAVA_BYTE.withName("avl"), JAVA_BYTE.withName("unusable"),
                JAVA_BYTE.withName("padding")).withName("kvm_segment");
        public static final long BASE = offset(LAYOUT, "base");
        public static final long LIMIT = offset(LAYOUT, "limit");
        public static final long SELECTOR = offset(LAYOUT, "selector");
        public static final long TYPE = offset(LAYOUT, "type");
        public static final long PRESENT = offset(LAYOUT, "present");
        public static final long DPL = offset(LAYOUT, "dpl");
        public static final long DB = offset(LAYOUT, "db");
        public static final long S = offset(LAYOUT, "s");
        public static final long L = offset(LAYOUT, "l");
        public static final long G = offset(LAYOUT, "g");
        public static final long AVL = offset(LAYOUT, "avl");
        public static final long UNUSABLE = offset(LAYOUT, "unusable");
    }

    /** {@code struct kvm_dtable} (GDTR/IDTR). */
    public static final class Dtable {
        private Dtable() {}
        public static final StructLayout LAYOUT = MemoryLayout.structLayout(
                JAVA_LONG.withName("base"), JAVA_SHORT.withName("limit"),
                sequenceLayout(3, JAVA_SHORT).withName("padding")).withName("kvm_dtable");
        public static final long BASE = offset(LAYOUT, "base");
        public static final long LIMIT = offset(LAYOUT, "limit");
    }

    /** {@code struct kvm_sregs}. */
    public static final class Sregs {
        private Sregs() {}
        public static final StructLayout LAYOUT = MemoryLayout.structLayout(
                Segment.LAYOUT.withName("cs"), Segment.LAYOUT.withName("ds"), Segment.LAYOUT.withName("es"),
                Segment.LAYOUT.withName("fs"), Segment.LAYOUT.withName("gs"), Segment.LAYOUT.withName("ss"),
                Segment.LAYOUT.withName("tr"), Segment.LAYOUT.withName("ldt"),
                Dtable.LAYOUT.withName("gdt"), Dtable.LAYOUT.withName("idt"),
                JAVA_LONG.withName("cr0"), JAVA_LONG.withName("cr2"), JAVA_LONG.withName("cr3"),
                JAVA_LONG.withName("cr4"), JAVA_LONG.withName("cr8"), JAVA_LONG.withName("efer"),
                JAVA_LONG.withName("apic_base"),
                sequenceLayout(4, JAVA_LONG).withName("interrupt_bitmap")).withName("kvm_sregs");
        public static final long CS = offset(LAYOUT, "cs");
        public static final long DS = offset(LAYOUT, "ds");
        public static final long ES = offset(LAYOUT, "es");
        public static final long FS = offset(LAYOUT, "fs");
        public static final long GS = offset(LAYOUT, "gs");
        public static final long SS = offset(LAYOUT, "ss");
        public static final long TR = offset(LAYOUT, "tr");
        public static final long LDT = offset(LAYOUT, "ldt");
        public static final long GDT = offset(LAYOUT, "gdt");
        public static final long IDT = offset(LAYOUT, "idt");
        public static final long CR0 = offset(LAYOUT, "cr0");
        public static final long CR2 = offset(LAYOUT, "cr2");
        public static final long CR3 = offset(LAYOUT, "cr3");
        public static final long CR4 = offset(LAYOUT, "cr4");
        public static final long CR8 = offset(LAYOUT, "cr8");
        public static final long EFER = offset(LAYOUT, "efer");
        public static final long APIC_BASE = offset(LAYOUT, "apic_base");
        public static final long INTERRUPT_BITMAP = offset(LAYOUT, "interrupt_bitmap");
    }

    /** {@code struct kvm_run}: the shared page of a vCPU; only the parts the engine reads are named. */
    public static final class Run {
        private Run() {}
        public static final StructLayout IO = MemoryLayout.structLayout(
                JAVA_BYTE.withName("direction"), JAVA_BYTE.withName("size"), JAVA_SHORT.withName("port"),
                JAVA_INT.withName("count"), JAVA_LONG.withName("data_offset"));
        public static final StructLayout MMIO = MemoryLayout.structLayout(
                JAVA_LONG.withName("phys_addr"), sequenceLayout(8, JAVA_BYTE).withName("data"),
                JAVA_INT.withName("len"), JAVA_BYTE.withName("is_write"), paddingLayout(3));
        public static final StructLayout FAIL_ENTRY = MemoryLayout.structLayout(
                JAVA_LONG.withName("hardware_entry_failure_reason"), JAVA_INT.withName("cpu"), paddingLayout(4));
        public static final StructLayout INTERNAL = MemoryLayout.structLayout(
                JAVA_INT.withName("suberror"), JAVA_INT.withName("ndata"),
                sequenceLayout(16, JAVA_LONG).withName("data"));
        public static final StructLayout SYSTEM_EVENT = MemoryLayout.structLayout(
                JAVA_INT.withName("type"), JAVA_INT.withName("ndata"),
                sequenceLayout(16, JAVA_LONG).withName("data"));
        public static final StructLayout EX = MemoryLayout.structLayout(
                JAVA_INT.withName("exception"), JAVA_INT.withName("error_code"));
        public static final GroupLayout EXIT_UNION = MemoryLayout.unionLayout(
                IO.withName("io"), MMIO.withName("mmio"), FAIL_ENTRY.withName("fail_entry"),
                INTERNAL.withName("internal"), SYSTEM_EVENT.withName("system_event"), EX.withName("ex"),
                sequenceLayout(256, JAVA_BYTE).withName("padding"));
        public static final StructLayout LAYOUT = MemoryLayout.structLayout(
                JAVA_BYTE.withName("request_interrupt_window"), JAVA_BYTE.withName("immediate_exit"),
                sequenceLayout(6, JAVA_BYTE).withName("padding1"),
                JAVA_INT.withName("exit_reason"), JAVA_BYTE.withName("ready_for_interrupt_injection"),
                JAVA_BYTE.withName("if_flag"), JAVA_SHORT.withName("flags"),
                JAVA_LONG.withName("cr8"), JAVA_LONG.withName("apic_base"),
                EXIT_UNION.withName("exit"),
                JAVA_LONG.withName("kvm_valid_regs"), JAVA_LONG.withName("kvm_dirty_regs"),
                sequenceLayout(2048, JAVA_BYTE).withName("s")).withName("kvm_run");

        public static final long IMMEDIATE_EXIT = offset(LAYOUT, "immediate_exit");
        public static final long EXIT_REASON = offset(LAYOUT, "exit_reason");
        public static final long IO_DIRECTION = offset(LAYOUT, "exit", "io", "direction");
        public static final long IO_SIZE = offset(LAYOUT, "exit", "io", "size");
        public static final long IO_PORT = offset(LAYOUT, "exit", "io", "port");
        public static final long IO_COUNT = offset(LAYOUT, "exit", "io", "count");
        public static final long IO_DATA_OFFSET = offset(LAYOUT, "exit", "io", "data_offset");
        public static final long MMIO_PHYS_ADDR = offset(LAYOUT, "exit", "mmio", "phys_addr");
        public static final long MMIO_DATA = offset(LAYOUT, "exit", "mmio", "data");
        public static final long MMIO_LEN = offset(LAYOUT, "exit", "mmio", "len");
        public static final long MMIO_IS_WRITE = offset(LAYOUT, "exit", "mmio", "is_write");
        public static final long FAIL_ENTRY_REASON = offset(LAYOUT, "exit", "fail_entry", "hardware_entry_failure_reason");
        public static final long FAIL_ENTRY_CPU = offset(LAYOUT, "exit", "fail_entry", "cpu");
        public static final long INTERNAL_SUBERROR = offset(LAYOUT, "exit", "internal", "suberror");
        public static final long INTERNAL_NDATA = offset(LAYOUT, "exit", "internal", "ndata");
        public static final long INTERNAL_DATA = offset(LAYOUT, "exit", "internal", "data");
        public static final long SYSTEM_EVENT_TYPE = offset(LAYOUT, "exit", "system_event", "type");
        public static final long SYSTEM_EVENT_NDATA = offset(LAYOUT, "exit", "system_event", "ndata");
        public static final long SYSTEM_EVENT_DATA = offset(LAYOUT, "exit", "system_event", "data");
        public static final long EX_EXCEPTION = offset(LAYOUT, "exit", "ex", "exception");
        public static final long EX_ERROR_CODE = offset(LAYOUT, "exit", "ex", "error_code");

        public static final int IO_IN = 0;
        public static final int IO_OUT = 1;
    }

    /** {@code struct kvm_userspace_memory_region}. */
    public static final class UserspaceMemoryRegion {
        private UserspaceMemoryRegion() {}
        public static final StructLayout LAYOUT = MemoryLayout.structLayout(
                JAVA_INT.withName("slot"), JAVA_INT.withName("flags"), JAVA_LONG.withName("guest_phys_addr"),
                JAVA_LONG.withName("memory_size"), JAVA_LONG.withName("userspace_addr"))
                .withName("kvm_userspace_memory_region");
        public static final long SLOT = offset(LAYOUT, "slot");
        public static final long FLAGS = offset(LAYOUT, "flags");
        public static final long GUEST_PHYS_ADDR = offset(LAYOUT, "guest_phys_addr");
        public static final long MEMORY_SIZE = offset(LAYOUT, "memory_size");
        public static final long USERSPACE_ADDR = offset(LAYOUT, "userspace_addr");
    }

    /** {@code struct kvm_cpuid_entry2}. */
    public static final class CpuidEntry2 {
        private CpuidEntry2() {}
        public static final StructLayout LAYOUT = MemoryLayout.structLayout(
                JAVA_INT.withName("function"), JAVA_INT.withName("index"), JAVA_INT.withName("flags"),
                JAVA_INT.withName("eax"), JAVA_INT.withName("ebx"), JAVA_INT.withName("ecx"), JAVA_INT.withName("edx"),
                sequenceLayout(3, JAVA_INT).withName("padding")).withName("kvm_cpuid_entry2");
        public static final long FUNCTION = offset(LAYOUT, "function");
        public static final long INDEX = offset(LAYOUT, "index");
        public static final long FLAGS = offset(LAYOUT, "flags");
        public static final long EAX = offset(LAYOUT, "eax");
        public static final long EBX = offset(LAYOUT, "ebx");
        public static final long ECX = offset(LAYOUT, "ecx");
        public static final long EDX = offset(LAYOUT, "edx");
        /** KVM_CPUID_FLAG_SIGNIFCANT_INDEX: the entry depends on ECX (the subleaf). */
        public static final int FLAG_SIGNIFICANT_INDEX = 1;
    }

    /** {@code struct kvm_cpuid2}: a header followed by {@code nent} entries. */
    public static final class Cpuid2 {
        private Cpuid2() {}
        public static final StructLayout HEADER = MemoryLayout.structLayout(
                JAVA_INT.withName("nent"), JAVA_INT.withName("padding")).withName("kvm_cpuid2");
        public static final long NENT = offset(HEADER, "nent");
        public static final long ENTRIES = HEADER.byteSize();
        /** Enough for any CPU KVM knows today (KVM's own limit is 256). */
        public static final int MAX_ENTRIES = 256;
    }

    /** {@code struct kvm_msr_entry}. */
    public static final class MsrEntry {
        private MsrEntry() {}
        public static final StructLayout LAYOUT = MemoryLayout.structLayout(
                JAVA_INT.withName("index"), JAVA_INT.withName("reserved"), JAVA_LONG.withName("data"))
                .withName("kvm_msr_entry");
        public static final long INDEX = offset(LAYOUT, "index");
        public static final long DATA = offset(LAYOUT, "data");
    }

    /** {@code struct kvm_msrs}: a header followed by {@code nmsrs} entries. */
    public static final class Msrs {
        private Msrs() {}
        public static final StructLayout HEADER = MemoryLayout.structLayout(
                JAVA_INT.withName("nmsrs"), JAVA_INT.withName("pad")).withName("kvm_msrs");
        public static final long NMSRS = offset(HEADER, "nmsrs");
        public static final long ENTRIES = HEADER.byteSize();
    }

    /** {@code struct kvm_pit_config}. */
    public static final class PitConfig {
        private PitConfig() {}
        public static final StructLayout LAYOUT = MemoryLayout.structLayout(
                JAVA_INT.withName("flags"), sequenceLayout(15, JAVA_INT).withName("pad")).withName("kvm_pit_config");
        public static final long FLAGS = offset(LAYOUT, "flags");
        /** KVM_PIT_SPEAKER_DUMMY: port 0x61 handled in the kernel, as Firecracker does. */
        public static final int SPEAKER_DUMMY = 1;
    }

    /** {@code struct kvm_irq_level}. */
    public static final class IrqLevel {
        private IrqLevel() {}
        public static final StructLayout LAYOUT = MemoryLayout.structLayout(
                JAVA_INT.withName("irq"), JAVA_INT.withName("level")).withName("kvm_irq_level");
        public static final long IRQ = offset(LAYOUT, "irq");
        public static final long LEVEL = offset(LAYOUT, "level");
    }

    /** {@code struct kvm_irqfd}. */
    public static final class Irqfd {
        private Irqfd() {}
        public static final StructLayout LAYOUT = MemoryLayout.structLayout(
                JAVA_INT.withName("fd"), JAVA_INT.withName("gsi"), JAVA_INT.withName("flags"),
                JAVA_INT.withName("resamplefd"), sequenceLayout(16, JAVA_BYTE).withName("pad")).withName("kvm_irqfd");
        public static final long FD = offset(LAYOUT, "fd");
        public static final long GSI = offset(LAYOUT, "gsi");
        public static final long FLAGS = offset(LAYOUT, "flags");
        public static final long RESAMPLEFD = offset(LAYOUT, "resamplefd");
        public static final int FLAG_DEASSIGN = 1;
    }

    /** {@code struct kvm_ioeventfd}. */
    public static final class Ioeventfd {
        private Ioeventfd() {}
        public static final StructLayout LAYOUT = MemoryLayout.structLayout(
                JAVA_LONG.withName("datamatch"), JAVA_LONG.withName("addr"), JAVA_INT.withName("len"),
                JAVA_INT.withName("fd"), JAVA_INT.withName("flags"),
                sequenceLayout(36, JAVA_BYTE).withName("pad")).withName("kvm_ioeventfd");
        public static final long DATAMATCH = offset(LAYOUT, "datamatch");
        public static final long ADDR = offset(LAYOUT, "addr");
        public static final long LEN = offset(LAYOUT, "len");
        public static final long FD = offset(LAYOUT, "fd");
        public static final long FLAGS = offset(LAYOUT, "flags");
        public static final int FLAG_DATAMATCH = 1;
        public static final int FLAG_PIO = 2;
        public static final int FLAG_DEASSIGN = 4;
    }

    /** {@code struct kvm_lapic_state}: the local APIC's 1 KiB register page. */
    public static final class LapicState {
        private LapicState() {}
        public static final StructLayout LAYOUT = MemoryLayout.structLayout(
                sequenceLayout(1024, JAVA_BYTE).withName("regs")).withName("kvm_lapic_state");
        public static final long REGS = offset(LAYOUT, "regs");
        /** Local vector table entries for LINT0 and LINT1 (APIC register offsets). */
        public static final long LVT_LINT0 = 0x350;
        public static final long LVT_LINT1 = 0x360;
    }

    /** {@code struct kvm_fpu}. */
    public static final class Fpu {
        private Fpu() {}
        public static final StructLayout LAYOUT = MemoryLayout.structLayout(
                sequenceLayout(128, JAVA_BYTE).withName("fpr"), JAVA_SHORT.withName("fcw"), JAVA_SHORT.withName("fsw"),
                JAVA_BYTE.withName("ftwx"), JAVA_BYTE.withName("pad1"), JAVA_SHORT.withName("last_opcode"),
                JAVA_LONG.withName("last_ip"), JAVA_LONG.withName("last_dp"),
                sequenceLayout(256, JAVA_BYTE).withName("xmm"), JAVA_INT.withName("mxcsr"),
                JAVA_INT.withName("pad2")).withName("kvm_fpu");
        public static final long FCW = offset(LAYOUT, "fcw");
        public static final long FSW = offset(LAYOUT, "fsw");
        public static final long FTWX = offset(LAYOUT, "ftwx");
        public static final long LAST_OPCODE = offset(LAYOUT, "last_opcode");
        public static final long LAST_IP = offset(LAYOUT, "last_ip");
        public static final long LAST_DP = offset(LAYOUT, "last_dp");
        public static final long XMM = offset(LAYOUT, "xmm");
        public static final long MXCSR = offset(LAYOUT, "mxcsr");
    }

    /** {@code struct kvm_signal_mask} with the kernel's 8-byte sigset (x86_64). */
    public static final class SignalMask {
        private SignalMask() {}
        public static final StructLayout LAYOUT = MemoryLayout.structLayout(
                JAVA_INT.withName("len"), ValueLayout.JAVA_LONG_UNALIGNED.withName("sigset")).withName("kvm_signal_mask");
        public static final long LEN = offset(LAYOUT, "len");
        public static final long SIGSET = offset(LAYOUT, "sigset");
        public static final int KERNEL_SIGSET_BYTES = 8;
    }

    // ---- ioctls on /dev/kvm
    public static final long KVM_GET_API_VERSION = Ioctl.io(KVMIO, 0x00);
    public static final long KVM_CREATE_VM = Ioctl.io(KVMIO, 0x01);
    public static final long KVM_CHECK_EXTENSION = Ioctl.io(KVMIO, 0x03);
    public static final long KVM_GET_VCPU_MMAP_SIZE = Ioctl.io(KVMIO, 0x04);
    public static final long KVM_GET_SUPPORTED_CPUID = Ioctl.iowr(KVMIO, 0x05, Cpuid2.HEADER.byteSize());

    // ---- ioctls on a VM fd
    public static final long KVM_CREATE_VCPU = Ioctl.io(KVMIO, 0x41);
    public static final long KVM_SET_USER_MEMORY_REGION = Ioctl.iow(KVMIO, 0x46, UserspaceMemoryRegion.LAYOUT.byteSize());
    public static final long KVM_SET_TSS_ADDR = Ioctl.io(KVMIO, 0x47);
    public static final long KVM_SET_IDENTITY_MAP_ADDR = Ioctl.iow(KVMIO, 0x48, 8);
    public static final long KVM_CREATE_IRQCHIP = Ioctl.io(KVMIO, 0x60);
    public static final long KVM_IRQ_LINE = Ioctl.iow(KVMIO, 0x61, IrqLevel.LAYOUT.byteSize());
    public static final long KVM_IRQFD = Ioctl.iow(KVMIO, 0x76, Irqfd.LAYOUT.byteSize());
    public static final long KVM_CREATE_PIT2 = Ioctl.iow(KVMIO, 0x77, PitConfig.LAYOUT.byteSize());
    public static final long KVM_IOEVENTFD = Ioctl.iow(KVMIO, 0x79, Ioeventfd.LAYOUT.byteSize());

    // ---- ioctls on a vCPU fd
    public static final long KVM_RUN = Ioctl.io(KVMIO, 0x80);
    public static final long KVM_GET_REGS = Ioctl.ior(KVMIO, 0x81, Regs.LAYOUT.byteSize());
    public static final long KVM_SET_REGS = Ioctl.iow(KVMIO, 0x82, Regs.LAYOUT.byteSize());
    public static final long KVM_GET_SREGS = Ioctl.ior(KVMIO, 0x83, Sregs.LAYOUT.byteSize());
    public static final long KVM_SET_SREGS = Ioctl.iow(KVMIO, 0x84, Sregs.LAYOUT.byteSize());
    public static final long KVM_GET_MSRS = Ioctl.iowr(KVMIO, 0x88, Msrs.HEADER.byteSize());
    public static final long KVM_SET_MSRS = Ioctl.iow(KVMIO, 0x89, Msrs.HEADER.byteSize());
    /** The struct's declared size is 4 (a flexible array follows), which is what the number encodes. */
    public static final long KVM_SET_SIGNAL_MASK = Ioctl.iow(KVMIO, 0x8b, 4);
    public static final long KVM_GET_FPU = Ioctl.ior(KVMIO, 0x8c, Fpu.LAYOUT.byteSize());
    public static final long KVM_SET_FPU = Ioctl.iow(KVMIO, 0x8d, Fpu.LAYOUT.byteSize());
    public static final long KVM_GET_LAPIC = Ioctl.ior(KVMIO, 0x8e, LapicState.LAYOUT.byteSize());
    public static final long KVM_SET_LAPIC = Ioctl.iow(KVMIO, 0x8f, LapicState.LAYOUT.byteSize());
    public static final long KVM_SET_CPUID2 = Ioctl.iow(KVMIO, 0x90, Cpuid2.HEADER.byteSize());

    public static final int KVM_API_VERSION = 12;

    // ---- exit reasons (kvm_run.exit_reason)
    public static final int KVM_EXIT_UNKNOWN = 0;
    public static final int KVM_EXIT_EXCEPTION = 1;
    public static final int KVM_EXIT_IO = 2;
    public static final int KVM_EXIT_DEBUG = 4;
    public static final int KVM_EXIT_HLT = 5;
    public static final int KVM_EXIT_MMIO = 6;
    public static final int KVM_EXIT_SHUTDOWN = 8;
    public static final int KVM_EXIT_FAIL_ENTRY = 9;
    public static final int KVM_EXIT_INTR = 10;
    public static final int KVM_EXIT_INTERNAL_ERROR = 17;
    public static final int KVM_EXIT_SYSTEM_EVENT = 24;

    public static final int KVM_SYSTEM_EVENT_SHUTDOWN = 1;
    public static final int KVM_SYSTEM_EVENT_RESET = 2;
    public static final int KVM_SYSTEM_EVENT_CRASH = 3;
}
