package dev.flotilla.controlplane.placement;

import java.time.Instant;
import java.util.UUID;

/** What the placement path did with one sandbox. */
public sealed interface PlacementOutcome {
    /** Placed on a node; the row lock on the node guaranteed it fits. */
    record Placed(UUID nodeId, String nodeName, Instant placedAt) implements PlacementOutcome {
    }

    /** Stored as PENDING: no node fits now; the reconciler retries. */
    record Pending(String reason) implements PlacementOutcome {
    }

    /** A new sandbox's name is already used; nothing was stored. */
    record NameTaken(String name) implements PlacementOutcome {
    }

    /** An existing sandbox was no longer waiting (placed, deleted or being placed by another replica). */
    record Skipped() implements PlacementOutcome {
    }
}
