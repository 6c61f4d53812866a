package dev.flotilla.controlplane.scheduler;

import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;

/** See the package documentation. Stateless; safe to share. */
public final class Scheduler {

    private Scheduler() {
    }

    /** Places each request in order; later requests see the earlier ones' allocations. */
    public static SchedulingResult schedule(FleetSnapshot snapshot, List<SandboxRequest> requests,
                                            SchedulingPolicy policy) {
        List<NodeInfo> nodes = snapshot.nodes();
        int nodeCount = nodes.size();
        // Allocations added by this batch, by node index; the snapshot itself is never modified.
        Map<Integer, Resources> batchAllocations = new HashMap<>();
        Map<Integer, List<Map<String, String>>> batchLabels = new HashMap<>();
        int cursor = nodeCount == 0 ? 0 : Math.floorMod(snapshot.cursor(), nodeCount);
        List<SchedulingResult.Decision> decisions = new ArrayList<>(requests.size());

        for (SandboxRequest request : requests) {
            Map<String, Integer> rejections = new TreeMap<>();
            int bestIndex = -1;
            double bestScore = Double.NEGATIVE_INFINITY;
            int feasible = 0;
            int scanned = 0;
            while (scanned < nodeCount) {
                int index = (cursor + scanned) % nodeCount;
                scanned++;
                NodeInfo node = withBatchLabels(nodes.get(index), batchLabels.get(index));
                Resources allocated = node.allocated().plus(batchAllocations.getOrDefault(index, Resources.ZERO));
                String rejection = firstRejection(request, node, allocated, policy);
                if (rejection != null) {
                    rejections.merge(rejection, 1, Integer::sum);
                    continue;
                }
                feasible++;
                double score = score(request, node, allocated, policy);
                if (score > bestScore) {
                    bestScore = score;
                    bestIndex = index;
                }
                if (policy.maxNodesToScore() > 0 && feasible >= policy.maxNodesToScore()) {
                    break;
                }
            }
            if (nodeCount > 0) {
                cursor = (cursor + scanned) % nodeCount;
            }
            if (bestIndex < 0) {
                decisions.add(new SchedulingResult.Unschedulable(request.id(), unschedulableReason(nodeCount, rejections)));
                continue;
            }
            batchAllocations.merge(bestIndex, request.resources(), Resources::plus);
            if (!request.labels().isEmpty()) {
                batchLabels.computeIfAbsent(bestIndex, i -> new ArrayList<>()).add(request.labels());
            }
            decisions.add(new SchedulingResult.Placement(request.id(), nodes.get(bestIndex)));
        }
        return new SchedulingResult(decisions, cursor);
    }

    private static String firstRejection(SandboxRequest request, NodeInfo node, Resources allocated,
                                         SchedulingPolicy policy) {
        for (FilterPlugin filter : policy.filters()) {
            String rejection = filter.reject(request, node, allocated, policy);
            if (rejection != null) {
                return rejection;
            }
        }
        return null;
    }

    private static double score(SandboxRequest request, NodeInfo node, Resources allocated, SchedulingPolicy policy) {
        double total = 0;
        for (Map.Entry<ScorePlugin, Integer> entry : policy.scores().entrySet()) {
            if (entry.getValue() != 0) {
                total += entry.getValue() * entry.getKey().score(request, node, allocated, policy);
            }
        }
        return total;
    }

    private static NodeInfo withBatchLabels(NodeInfo node, List<Map<String, String>> added) {
        if (added == null) {
            return node;
        }
        List<Map<String, String>> labels = new ArrayList<>(node.sandboxLabels());
        labels.addAll(added);
        return new NodeInfo(node.id(), node.name(), node.capacity(), node.allocated(), node.labels(), node.taints(),
                node.healthy(), node.cordoned(), labels);
    }

    private static String unschedulableReason(int nodeCount, Map<String, Integer> rejections) {
        StringBuilder reason = new StringBuilder("0/").append(nodeCount).append(" nodes fit");
        String separator = ": ";
        for (Map.Entry<String, Integer> entry : rejections.entrySet()) {
            reason.append(separator).append(entry.getValue()).append(' ').append(entry.getKey());
            separator = ", ";
        }
        return reason.toString();
    }
}
