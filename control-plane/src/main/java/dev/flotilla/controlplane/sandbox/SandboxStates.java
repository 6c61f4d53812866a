package dev.flotilla.controlplane.sandbox;

/** State names stored in the sandbox table. */
public final class SandboxStates {
    /** Desired states (what the user asked for). */
    public static final String RUNNING = "RUNNING";
    public static final String STOPPED = "STOPPED";
    public static final String DELETED = "DELETED";

    /** Observed states (what the control plane last learned); RUNNING and STOPPED are shared with the above. */
    public static final String PENDING = "PENDING";
    public static final String SCHEDULED = "SCHEDULED";
    public static final String STARTING = "STARTING";
    public static final String STOPPING = "STOPPING";
    public static final String FAILED = "FAILED";
    public static final String DELETING = "DELETING";

    private SandboxStates() {
    }
}
