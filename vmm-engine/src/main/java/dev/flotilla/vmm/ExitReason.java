package dev.flotilla.vmm;

/** Why a microVM ended. */
public sealed interface ExitReason {

    /** The guest reset the machine (reboot through the i8042, or a reset system event). */
    record GuestReset(String how) implements ExitReason {}

    /** The guest powered off or shut down (a triple fault counts: the CPU cannot go on). */
    record GuestShutdown(String how) implements ExitReason {}

    /** The host asked for the VM to stop. */
    record StoppedByHost() implements ExitReason {}

    /** The VMM could not go on: a KVM error, a vCPU failure. */
    record Error(String message) implements ExitReason {}

    default String describe() {
        return switch (this) {
            case GuestReset r -> "guest reset (" + r.how() + ")";
            case GuestShutdown s -> "guest shutdown (" + s.how() + ")";
            case StoppedByHost s -> "stopped by host";
            case Error e -> "error: " + e.message();
        };
    }
}
