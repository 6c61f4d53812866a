package dev.flotilla.controlplane.sandbox;

/** What happens when a sandbox's VM ends or its node is lost. */
public enum RestartPolicy {
    /** Restart after any exit; move to another node when the node is lost. */
    ALWAYS,
    /** Restart after a failure only; move to another node when the node is lost. */
    ON_FAILURE,
    /** Never restart; a lost node fails the sandbox. */
    NEVER
}
