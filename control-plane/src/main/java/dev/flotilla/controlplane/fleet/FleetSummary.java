package dev.flotilla.controlplane.fleet;

import java.util.Map;

/** Totals over the fleet (body of {@code GET /api/v1/fleet}). */
public record FleetSummary(
        Map<String, Long> nodesByState,
        long cordonedNodes,
        Map<String, Long> capacity,
        Map<String, Long> allocated,
        Map<String, Long> sandboxesByState,
        SchedulerInfo scheduler) {

    public record SchedulerInfo(java.util.List<String> filters, Map<String, Integer> scores, double vcpuOvercommit,
                                double memoryOvercommit, int maxNodesToScore, int queued) {
    }
}
