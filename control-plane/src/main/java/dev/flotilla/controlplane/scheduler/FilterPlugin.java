package dev.flotilla.controlplane.scheduler;

/** Decides whether a sandbox may go on a node at all. */
public interface FilterPlugin {
    /** Name used in the policy configuration. */
    String name();

    /**
     * @param allocated the node's allocation including earlier placements of the same batch
     * @return null when the node passes, else a short reason ("insufficient memory") counted in the unschedulable message
     */
    String reject(SandboxRequest sandbox, NodeInfo node, Resources allocated, SchedulingPolicy policy);
}
