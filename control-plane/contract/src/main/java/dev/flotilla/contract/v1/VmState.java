package dev.flotilla.contract.v1;

import com.fasterxml.jackson.annotation.JsonEnumDefaultValue;

/** Lifecycle of one sandbox VM on a node, as the node agent sees it. */
public enum VmState {
    STARTING,
    RUNNING,
    STOPPING,
    STOPPED,
    /** The VM could not start or crashed; {@link SandboxStatus#message()} says why. */
    FAILED,
    @JsonEnumDefaultValue UNKNOWN
}
