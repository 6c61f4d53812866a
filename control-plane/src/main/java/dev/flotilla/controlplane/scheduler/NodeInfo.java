package dev.flotilla.controlplane.scheduler;

import dev.flotilla.contract.v1.Taint;

import java.util.List;
import java.util.Map;
import java.util.UUID;

/**
 * One node as the scheduler sees it. Immutable: the fleet cache replaces the whole record when anything changes.
 *
 * @param sandboxLabels labels of the sandboxes placed on the node, for anti-affinity
 */
public record NodeInfo(
        UUID id,
        String name,
        Resources capacity,
        Resources allocated,
        Map<String, String> labels,
        List<Taint> taints,
        boolean healthy,
        boolean cordoned,
        List<Map<String, String>> sandboxLabels) {

    public NodeInfo {
        labels = Map.copyOf(labels);
        taints = List.copyOf(taints);
        sandboxLabels = List.copyOf(sandboxLabels);
    }

    public NodeInfo withAllocated(Resources newAllocated) {
        return new NodeInfo(id, name, capacity, newAllocated, labels, taints, healthy, cordoned, sandboxLabels);
    }
}
