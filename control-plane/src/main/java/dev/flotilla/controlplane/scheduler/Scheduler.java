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
        // Nodes as changed by this batch's earlier placements (allocation and sandbox labels), by index; the
        // snapshot itself is never modified, and untouched nodes are read without any copying.
        Map<Integer, NodeInfo> overlay = new HashMap<>();
        int cursor = nodeCount == 0 ? 0 : Math.floorMod(snapshot.cursor(), nodeCount);
        List<SchedulingResult.Decision> decisions = new ArrayList<>(requests.size());

        for (SandboxRequest request : requests) {
            Map<String, Integer> rejections = null;
            int bestIndex = -1;
            double bestScore = Double.NEGATIVE_INFINITY;
            int feasible = 0;
            int scanned = 0;
            while (scanned < nodeCount) {
                int index = (cursor + scanned) % nodeCount;
                scanned++;
                NodeInfo node = overlay.isEmpty() ? nodes.get(index) : overlay.getOrDefault(index, nodes.get(index));
                String rejection = firstRejection(request, node, node.allocated(), policy);
                if (rejection != null) {
                    if (rejections == null) {
                        rejections = new TreeMap<>();
                    }
                    rejections.merge(rejection, 1, Integer::sum);
                    continue;
                }
                feasible++;
                double score = score(request, node, node.allocated(), policy);
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
                decisions.add(new SchedulingResult.Unschedulable(request.id(),
                        unschedulableReason(nodeCount, rejections == null ? Map.of() : rejections)));
                continue;
            }
            NodeInfo chosen = overlay.getOrDefault(bestIndex, nodes.get(bestIndex));
            overlay.put(bestIndex, placed(chosen, request));
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

    /** The node after placing the request on it. */
    private static NodeInfo placed(NodeInfo node, SandboxRequest request) {
        List<Map<String, String>> labels = node.sandboxLabels();
        if (!request.labels().isEmpty()) {
            labels = new ArrayList<>(labels);
            labels.add(request.labels());
        }
        return new NodeInfo(node.id(), node.name(), node.capacity(), node.allocated().plus(request.resources()),
                node.labels(), node.taints(), node.healthy(), node.cordoned(), labels);
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
