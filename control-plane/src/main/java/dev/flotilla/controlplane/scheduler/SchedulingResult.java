package dev.flotilla.controlplane.scheduler;

import java.util.List;
import java.util.UUID;

/**
 * The scheduler's answer for a batch: one decision per request, in request order, and the cursor to pass with the
 * next snapshot.
 */
public record SchedulingResult(List<Decision> decisions, int nextCursor) {

    /** What happens to one sandbox. */
    public sealed interface Decision permits Placement, Unschedulable {
        UUID sandboxId();
    }

    /** Run the sandbox on {@code node}. */
    public record Placement(UUID sandboxId, NodeInfo node) implements Decision {
    }

    /** No node passed the filters; {@code reason} summarises why, e.g. "0/3 nodes fit: 2 insufficient memory, 1 cordoned". */
    public record Unschedulable(UUID sandboxId, String reason) implements Decision {
    }
}
