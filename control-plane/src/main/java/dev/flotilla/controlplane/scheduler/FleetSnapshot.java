package dev.flotilla.controlplane.scheduler;

import java.util.List;

/**
 * The nodes at one instant, in a fixed order, plus where the previous scan stopped ({@code cursor}). The placement
 * path passes the table it keeps up to date (it must not change while the scheduler runs); other callers pass a
 * list, which is copied into a table of its own.
 */
public record FleetSnapshot(NodeTable table, int cursor) {
    public FleetSnapshot(List<NodeInfo> nodes, int cursor) {
        this(NodeTable.of(nodes), cursor);
    }

    public List<NodeInfo> nodes() {
        return table.asList();
    }
}
