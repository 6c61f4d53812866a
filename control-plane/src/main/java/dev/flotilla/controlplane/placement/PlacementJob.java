package dev.flotilla.controlplane.placement;

import dev.flotilla.controlplane.sandbox.SandboxSpec;
import dev.flotilla.controlplane.scheduler.SandboxRequest;

import java.util.concurrent.CompletableFuture;

/**
 * One sandbox waiting for the placement thread.
 *
 * @param newSpec         the full spec when the sandbox is new and must be inserted, null when it is already stored
 * @param previousMessage the stored unschedulable reason, to avoid repeating identical events
 * @param enqueuedNanos   when the request entered the queue, for the latency metric
 * @param answersCreate   the result answers a create request (also when retried as a stored sandbox), which must
 *                        get a placement or a reason, never "skipped"
 */
record PlacementJob(SandboxRequest request, SandboxSpec newSpec, String previousMessage,
                    CompletableFuture<PlacementOutcome> result, int attempts, long enqueuedNanos, boolean answersCreate) {

    boolean isNew() {
        return newSpec != null;
    }

    PlacementJob retried() {
        return new PlacementJob(request, newSpec, previousMessage, result, attempts + 1, enqueuedNanos, answersCreate);
    }
}
