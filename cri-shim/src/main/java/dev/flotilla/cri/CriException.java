package dev.flotilla.cri;

import java.util.Objects;

/**
 * A CRI call that cannot be completed, with the reason the kubelet (and the operator reading its events) should
 * see. Backends throw it; the gRPC services turn {@link #reason()} into the matching gRPC status code, so backends
 * never depend on gRPC types.
 *
 * <p>Messages are full sentences naming the object and what to do, e.g. "no pod sandbox with id 3f2a... exists on
 * this node; it may have been removed already".
 */
public final class CriException extends RuntimeException {

    /** Why a call failed; each maps to exactly one gRPC status code. */
    public enum Reason {
        /** The request itself is malformed (missing metadata, bad id, negative timeout). */
        INVALID_ARGUMENT,
        /** The sandbox, container or image named does not exist. */
        NOT_FOUND,
        /** A sandbox or container with the same name and attempt exists already. */
        ALREADY_EXISTS,
        /** The object is in the wrong state for the call (e.g. starting an exited container). */
        FAILED_PRECONDITION,
        /** Flotilla does not support the call, or the part of the node-agent serving it is not attached. */
        UNIMPLEMENTED,
        /** A dependency is down for now (registry unreachable, KVM unusable); retrying may succeed. */
        UNAVAILABLE,
        /** The call ran out of its own time limit (exec timeout, stop grace period). */
        DEADLINE_EXCEEDED,
        /** A node limit was hit (memory for another microVM, disk for an image). */
        RESOURCE_EXHAUSTED,
        /** A fault in Flotilla itself. */
        INTERNAL
    }

    private final Reason reason;

    public CriException(Reason reason, String message) {
        this(reason, message, null);
    }

    public CriException(Reason reason, String message, Throwable cause) {
        super(Objects.requireNonNull(message, "message"), cause);
        this.reason = Objects.requireNonNull(reason, "reason");
    }

    public Reason reason() {
        return reason;
    }

    public static CriException invalidArgument(String message) {
        return new CriException(Reason.INVALID_ARGUMENT, message);
    }

    public static CriException notFound(String message) {
        return new CriException(Reason.NOT_FOUND, message);
    }

    public static CriException alreadyExists(String message) {
        return new CriException(Reason.ALREADY_EXISTS, message);
    }

    public static CriException failedPrecondition(String message) {
        return new CriException(Reason.FAILED_PRECONDITION, message);
    }

    public static CriException unimplemented(String message) {
        return new CriException(Reason.UNIMPLEMENTED, message);
    }
}
