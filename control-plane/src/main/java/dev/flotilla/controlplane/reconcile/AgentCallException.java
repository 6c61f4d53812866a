package dev.flotilla.controlplane.reconcile;

/** A call to a node agent failed: unreachable, timed out, or answered with an error status. */
public class AgentCallException extends Exception {
    private final int status;

    public AgentCallException(String message, int status, Throwable cause) {
        super(message, cause);
        this.status = status;
    }

    /** HTTP status, or 0 when there was no answer. */
    public int status() {
        return status;
    }
}
