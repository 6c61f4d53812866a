package dev.flotilla.vmm.kvm;

/**
 * Why KVM_RUN returned, for every exit except port I/O and MMIO: those are the hot path and are
 * dispatched to the buses straight from kvm_run without building one of these.
 */
public sealed interface VcpuExit {

    /** KVM_EXIT_HLT: the guest halted (only seen without an in-kernel irqchip). */
    record Halt() implements VcpuExit {}

    /**
     * KVM_EXIT_SHUTDOWN: a triple fault; the guest cannot continue. {@code cpuState} is where the vCPU stood (RIP,
     * control registers, IDT), read after the exit for whoever must find out why; empty when not read.
     */
    record Shutdown(String cpuState) implements VcpuExit {}

    /** KVM_EXIT_SYSTEM_EVENT: the guest asked for power-off, reset or reported a crash (PSCI/others). */
    record SystemEvent(int type) implements VcpuExit {}

    /** KVM_EXIT_FAIL_ENTRY: the hardware refused to enter the guest. */
    record FailEntry(long hardwareReason, int cpu) implements VcpuExit {}

    /** KVM_EXIT_INTERNAL_ERROR: KVM could not handle the guest (e.g. emulation failure); suberror says why. */
    record InternalError(int suberror, long firstData) implements VcpuExit {}

    /** KVM_RUN returned EINTR (a kick) or KVM_EXIT_INTR: a chance to look at commands. */
    record Interrupted() implements VcpuExit {}

    /** KVM_EXIT_EXCEPTION: an exception in the guest that KVM passed up. */
    record GuestException(int exception, int errorCode) implements VcpuExit {}

    /** Any other exit reason, which the engine does not handle. */
    record Unhandled(int exitReason) implements VcpuExit {}

    Interrupted INTERRUPTED = new Interrupted();
    Halt HALT = new Halt();
    Shutdown SHUTDOWN = new Shutdown("");

    /** One sentence for logs and exit reasons. */
    default String describe() {
        return switch (this) {
            case Halt h -> "the guest halted (HLT)";
            case Shutdown s -> "the guest shut down (triple fault" + (s.cpuState().isEmpty() ? ")" : ": " + s.cpuState() + ")");
            case SystemEvent e -> "the guest raised system event " + switch (e.type()) {
                case 1 -> "SHUTDOWN";
                case 2 -> "RESET";
                case 3 -> "CRASH";
                default -> String.valueOf(e.type());
            };
            case FailEntry f -> "KVM could not enter the guest (hardware reason 0x%x on cpu %d)"
                    .formatted(f.hardwareReason(), f.cpu());
            case InternalError i -> "KVM internal error, suberror %d%s (data 0x%x)".formatted(i.suberror(),
                    i.suberror() == 1 ? " (emulation failure)" : "", i.firstData());
            case Interrupted i -> "interrupted";
            case GuestException e -> "guest exception %d, error code 0x%x".formatted(e.exception(), e.errorCode());
            case Unhandled u -> "unhandled KVM exit reason " + u.exitReason();
        };
    }
}
