package dev.flotilla.controlplane.scheduler;

import java.util.ArrayList;
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
        // The plugins as arrays, read once: the scan below runs them for ~100 nodes per request.
        FilterPlugin[] filters = policy.filters().toArray(FilterPlugin[]::new);
        ScorePlugin[] scorers = policy.scores().entrySet().stream().filter(entry -> entry.getValue() != 0)
                .map(Map.Entry::getKey).toArray(ScorePlugin[]::new);
        int[] weights = policy.scores().values().stream().filter(weight -> weight != 0).mapToInt(Integer::intValue)
                .toArray();
        // Nodes as changed by this batch's earlier placements (allocation and sandbox labels), by index; allocated
        // at the first placement. The snapshot itself is never modified, and untouched nodes are never copied.
        NodeInfo[] overlay = null;
        int cursor = nodeCount == 0 ? 0 : Math.floorMod(snapshot.cursor(), nodeCount);
        List<SchedulingResult.Decision> decisions = new ArrayList<>(requests.size());

        for (SandboxRequest request : requests) {
            Map<String, Integer> rejections = null;
            int bestIndex = -1;
            double bestScore = Double.NEGATIVE_INFINITY;
            int feasible = 0;
            int scanned = 0;
            while (scanned < nodeCount) {
                int index = cursor + scanned;
                if (index >= nodeCount) {
                    index -= nodeCount;
                }
                scanned++;
                NodeInfo node = overlay == null || overlay[index] == null ? nodes.get(index) : overlay[index];
                String rejection = firstRejection(filters, request, node, policy);
                if (rejection != null) {
                    if (rejections == null) {
                        rejections = new TreeMap<>();
                    }
                    rejections.merge(rejection, 1, Integer::sum);
                    continue;
                }
                feasible++;
                double score = score(scorers, weights, request, node, policy);
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
            if (overlay == null) {
                overlay = new NodeInfo[nodeCount];
            }
            NodeInfo chosen = overlay[bestIndex] == null ? nodes.get(bestIndex) : overlay[bestIndex];
            overlay[bestIndex] = placed(chosen, request);
            decisions.add(new SchedulingResult.Placement(request.id(), nodes.get(bestIndex)));
        }
        return new SchedulingResult(decisions, cursor);
    }

    private static String firstRejection(FilterPlugin[] filters, SandboxRequest request, NodeInfo node,
                                         SchedulingPolicy policy) {
        Resources allocated = node.allocated();
        for (FilterPlugin filter : filters) {
            String rejection = filter.reject(request, node, allocated, policy);
            if (rejection != null) {
                return rejection;
            }
        }
        return null;
    }

    private static double score(ScorePlugin[] scorers, int[] weights, SandboxRequest request, NodeInfo node,
                                SchedulingPolicy policy) {
        double total = 0;
        Resources allocated = node.allocated();
        for (int i = 0; i < scorers.length; i++) {
            total += weights[i] * scorers[i].score(request, node, allocated, policy);
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
