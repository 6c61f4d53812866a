package dev.flotilla.controlplane.scheduler;

import java.util.List;

/**
 * The nodes at one instant, in a fixed order, plus where the previous scan stopped ({@code cursor}).
 */
public record FleetSnapshot(List<NodeInfo> nodes, int cursor) {
    public FleetSnapshot {
        nodes = List.copyOf(nodes);
    }
}
