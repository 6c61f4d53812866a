package dev.flotilla.vmm.vcpu;

/**
 * How many times vCPUs left KVM_RUN, by reason: a snapshot taken by another thread, so each
 * field may be a few exits stale (the vCPU thread keeps counting while it is read).
 *
 * @param io          port I/O exits (KVM_EXIT_IO)
 * @param mmio        MMIO exits (KVM_EXIT_MMIO)
 * @param halt        HLT exits that reached user space (only without an in-kernel irqchip)
 * @param shutdown    triple faults (KVM_EXIT_SHUTDOWN) and system events (KVM_EXIT_SYSTEM_EVENT)
 * @param interrupted KVM_RUN ended by a signal: EINTR or KVM_EXIT_INTR (pause and stop kicks)
 * @param other       every other exit reason (internal errors, failed entries, exceptions...)
 */
public record ExitCounts(long io, long mmio, long halt, long shutdown, long interrupted, long other) {

    public static final ExitCounts ZERO = new ExitCounts(0, 0, 0, 0, 0, 0);

    /** The label each field is published under, in field order. */
    public static final java.util.List<String> REASONS =
            java.util.List.of("io", "mmio", "halt", "shutdown", "interrupted", "other");

    public ExitCounts plus(ExitCounts o) {
        return new ExitCounts(io + o.io, mmio + o.mmio, halt + o.halt, shutdown + o.shutdown,
                interrupted + o.interrupted, other + o.other);
    }

    public long total() {
        return io + mmio + halt + shutdown + interrupted + other;
    }

    /** The count for one of {@link #REASONS}. */
    public long of(String reason) {
        return switch (reason) {
            case "io" -> io;
            case "mmio" -> mmio;
            case "halt" -> halt;
            case "shutdown" -> shutdown;
            case "interrupted" -> interrupted;
            case "other" -> other;
            default -> throw new IllegalArgumentException("unknown exit reason '" + reason
                    + "'; known: " + REASONS);
        };
    }
}
