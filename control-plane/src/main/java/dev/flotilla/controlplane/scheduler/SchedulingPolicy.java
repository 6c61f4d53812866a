package dev.flotilla.controlplane.scheduler;

import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * Which plugins run, how scores are weighed, and how far capacity may be overcommitted.
 *
 * @param filters           filter plugins, all must pass
 * @param scores            score plugins with their weights
 * @param vcpuOvercommit    allocatable vCPUs per physical vCPU (e.g. 4.0)
 * @param memoryOvercommit  allocatable memory per MiB of node memory (1.0 = none)
 * @param maxNodesToScore   stop scanning after this many feasible nodes; 0 scores every node
 */
public record SchedulingPolicy(
        List<FilterPlugin> filters,
        Map<ScorePlugin, Integer> scores,
        double vcpuOvercommit,
        double memoryOvercommit,
        int maxNodesToScore) {

    public SchedulingPolicy {
        if (vcpuOvercommit < 1.0 || memoryOvercommit < 1.0) {
            throw new IllegalArgumentException("overcommit ratios must be at least 1.0, got vCPU "
                    + vcpuOvercommit + " and memory " + memoryOvercommit);
        }
        if (maxNodesToScore < 0) {
            throw new IllegalArgumentException("maxNodesToScore must be 0 (all) or positive, got " + maxNodesToScore);
        }
        filters = List.copyOf(filters);
        scores = java.util.Collections.unmodifiableMap(new LinkedHashMap<>(scores));
    }

    /**
     * Builds a policy from plugin names, as written in configuration.
     *
     * @throws IllegalArgumentException naming the unknown plugin or bad weight
     */
    public static SchedulingPolicy of(List<String> filterNames, Map<String, Integer> scoreWeights,
                                      double vcpuOvercommit, double memoryOvercommit, int maxNodesToScore) {
        List<FilterPlugin> filters = new ArrayList<>();
        for (String name : filterNames) {
            filters.add(Plugins.filter(name.trim()).orElseThrow(() -> new IllegalArgumentException(
                    "unknown scheduler filter '" + name + "'; known: capacity, node-selector, taints, health, cordon")));
        }
        Map<ScorePlugin, Integer> scores = new LinkedHashMap<>();
        scoreWeights.forEach((name, weight) -> {
            ScorePlugin plugin = Plugins.score(name.trim()).orElseThrow(() -> new IllegalArgumentException(
                    "unknown scheduler score '" + name + "'; known: spread, bin-pack, anti-affinity"));
            if (weight < 0) {
                throw new IllegalArgumentException("score weight of '" + name + "' must not be negative, got " + weight);
            }
            scores.put(plugin, weight);
        });
        return new SchedulingPolicy(filters, scores, vcpuOvercommit, memoryOvercommit, maxNodesToScore);
    }

    public long vcpuLimit(long physicalVcpus) {
        return (long) Math.floor(physicalVcpus * vcpuOvercommit);
    }

    public long memoryLimit(long physicalMemoryMiB) {
        return (long) Math.floor(physicalMemoryMiB * memoryOvercommit);
    }
}
