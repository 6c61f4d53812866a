/**
 * The scheduler: a pure function from a {@link dev.flotilla.controlplane.scheduler.FleetSnapshot} and a batch of
 * {@link dev.flotilla.controlplane.scheduler.SandboxRequest}s to placements
 * ({@link dev.flotilla.controlplane.scheduler.Scheduler#schedule}).
 *
 * <p>Like kube-scheduler it runs filter plugins (may the sandbox go on this node at all?) and then score plugins
 * (how good is this node?) over the nodes, and picks the best score. No I/O, no clock, no randomness: the same
 * input gives the same output, which is what the golden-file tests pin down. Requests in one batch see each
 * other's placements (a private overlay of allocations), so a batch never overbooks the snapshot it was given.
 * The snapshot can be stale; the placement path re-checks every choice against locked database rows.
 *
 * <p>On big fleets scoring every node for every request is wasted work: with
 * {@link dev.flotilla.controlplane.scheduler.SchedulingPolicy#maxNodesToScore()} the scan stops after that many
 * feasible nodes, starting where the previous request stopped (kube-scheduler's percentageOfNodesToScore idea),
 * so load still spreads over the whole fleet.
 */
package dev.flotilla.controlplane.scheduler;
