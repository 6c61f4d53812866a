package dev.flotilla.vmm.kvm;

/** The KVM capabilities the engine relies on ({@code KVM_CAP_*} from linux/kvm.h) and what for. */
public enum KvmCapability {
    IRQCHIP(0, "the in-kernel interrupt controllers (PIC, IOAPIC, LAPIC)"),
    USER_MEMORY(3, "guest memory from user-space mappings"),
    SET_TSS_ADDR(4, "the TSS pages KVM needs on Intel hosts"),
    EXT_CPUID(7, "the guest CPUID table"),
    MP_STATE(14, "SMP guests"),
    IRQ_ROUTING(25, "interrupt routing"),
    IRQFD(32, "device interrupts through eventfds"),
    PIT2(33, "the in-kernel timer (PIT)"),
    IOEVENTFD(36, "device notifications through eventfds"),
    SET_IDENTITY_MAP_ADDR(37, "the identity map page KVM needs on Intel hosts"),
    TSC_DEADLINE_TIMER(72, "the LAPIC TSC-deadline timer mode (told to the guest in CPUID)"),
    IMMEDIATE_EXIT(136, "interrupting a running vCPU (pause and stop)");

    private final int number;
    private final String purpose;

    KvmCapability(int number, String purpose) {
        this.number = number;
        this.purpose = purpose;
    }

    /** The KVM_CAP_* value passed to KVM_CHECK_EXTENSION. */
    public int number() {
        return number;
    }

    /** What the engine uses this capability for, for error messages. */
    public String purpose() {
        return purpose;
    }

    public String kernelName() {
        return "KVM_CAP_" + name();
    }
}
