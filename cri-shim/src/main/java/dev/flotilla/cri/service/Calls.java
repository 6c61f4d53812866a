package dev.flotilla.cri.service;

import dev.flotilla.cri.CriException;
import io.grpc.Status;
import io.grpc.StatusRuntimeException;
import io.grpc.stub.StreamObserver;

import java.util.List;
import java.util.function.Supplier;

/** Runs one CRI call and answers it: the result, or the failure as a gRPC status the kubelet understands. */
final class Calls {

    private static final System.Logger LOG = System.getLogger(Calls.class.getName());

    private Calls() {
    }

    static <T> void unary(String rpc, StreamObserver<T> response, Supplier<T> call) {
        T result;
        try {
            result = call.get();
        } catch (RuntimeException e) {
            response.onError(toStatus(rpc, e));
            return;
        }
        response.onNext(result);
        response.onCompleted();
    }

    /** A server-streaming list: one message with every item, or none when there are no items (as CRI asks). */
    static <I, T> void streamedList(String rpc, StreamObserver<T> response, Supplier<List<I>> items,
                                    java.util.function.Function<List<I>, T> wrap) {
        List<I> list;
        try {
            list = items.get();
        } catch (RuntimeException e) {
            response.onError(toStatus(rpc, e));
            return;
        }
        if (!list.isEmpty()) {
            response.onNext(wrap.apply(list));
        }
        response.onCompleted();
    }

    static StatusRuntimeException toStatus(String rpc, RuntimeException failure) {
        if (failure instanceof CriException e) {
            LOG.log(e.reason() == CriException.Reason.INTERNAL ? System.Logger.Level.WARNING
                    : System.Logger.Level.DEBUG, () -> rpc + " refused: " + e.getMessage());
            return code(e.reason()).withDescription(e.getMessage()).withCause(e).asRuntimeException();
        }
        if (failure instanceof StatusRuntimeException e) {
            return e;
        }
        // A bug or an unexpected failure below us: say where, keep the detail for the node-agent's log.
        LOG.log(System.Logger.Level.ERROR, rpc + " failed unexpectedly", failure);
        return Status.INTERNAL.withDescription(rpc + " failed inside Flotilla's node-agent (" + failure
                + "); see the node-agent log for details").withCause(failure).asRuntimeException();
    }

    static Status code(CriException.Reason reason) {
        return switch (reason) {
            case INVALID_ARGUMENT -> Status.INVALID_ARGUMENT;
            case NOT_FOUND -> Status.NOT_FOUND;
            case ALREADY_EXISTS -> Status.ALREADY_EXISTS;
            case FAILED_PRECONDITION -> Status.FAILED_PRECONDITION;
            case UNIMPLEMENTED -> Status.UNIMPLEMENTED;
            case UNAVAILABLE -> Status.UNAVAILABLE;
            case DEADLINE_EXCEEDED -> Status.DEADLINE_EXCEEDED;
            case RESOURCE_EXHAUSTED -> Status.RESOURCE_EXHAUSTED;
            case INTERNAL -> Status.INTERNAL;
        };
    }
}
