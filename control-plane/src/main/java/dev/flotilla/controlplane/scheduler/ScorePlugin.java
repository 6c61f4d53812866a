package dev.flotilla.controlplane.scheduler;

/** Rates a node that passed every filter, from 0 (worst) to 100 (best); the policy weighs plugins. */
public interface ScorePlugin {
    String name();

    /** @param allocated the node's allocation including earlier placements of the same batch, before this sandbox */
    double score(SandboxRequest sandbox, NodeInfo node, Resources allocated, SchedulingPolicy policy);
}
