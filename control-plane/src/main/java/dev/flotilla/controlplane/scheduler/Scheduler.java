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
        NodeTable table = snapshot.table();
        int nodeCount = table.size();
        // The plugins as arrays, read once: the scan below runs them for ~100 nodes per request. Built-in plugins
        // are evaluated inline on the table's columns (see kind codes below), others through their interface.
        FilterPlugin[] filters = policy.filters().toArray(FilterPlugin[]::new);
        ScorePlugin[] scorers = policy.scores().entrySet().stream().filter(entry -> entry.getValue() != 0)
                .map(Map.Entry::getKey).toArray(ScorePlugin[]::new);
        int[] weights = policy.scores().values().stream().filter(weight -> weight != 0).mapToInt(Integer::intValue)
                .toArray();
        int[] filterKinds = new int[filters.length];
        for (int i = 0; i < filters.length; i++) {
            filterKinds[i] = filterKind(filters[i]);
        }
        int[] scoreKinds = new int[scorers.length];
        for (int i = 0; i < scorers.length; i++) {
            scoreKinds[i] = scoreKind(scorers[i]);
        }
        // Nodes as changed by this batch's earlier placements (allocation and sandbox labels), by index; allocated
        // at the first placement. The snapshot itself is never modified, and untouched nodes are never copied.
        NodeInfo[] overlay = null;
        int cursor = nodeCount == 0 ? 0 : Math.floorMod(snapshot.cursor(), nodeCount);
        List<SchedulingResult.Decision> decisions = new ArrayList<>(requests.size());

        for (SandboxRequest request : requests) {
            Scan scan = new Scan(table, request, policy, filters, filterKinds, scorers, scoreKinds, weights);
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
                NodeInfo changed = overlay == null ? null : overlay[index];
                String rejection = changed == null ? scan.firstRejection(index) : scan.firstRejection(changed);
                if (rejection != null) {
                    if (rejections == null) {
                        rejections = new TreeMap<>();
                    }
                    rejections.merge(rejection, 1, Integer::sum);
                    continue;
                }
                feasible++;
                double score = changed == null ? scan.score(index) : scan.score(changed);
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
            NodeInfo chosen = overlay[bestIndex] == null ? table.get(bestIndex) : overlay[bestIndex];
            overlay[bestIndex] = placed(chosen, request);
            decisions.add(new SchedulingResult.Placement(request.id(), table.get(bestIndex)));
        }
        return new SchedulingResult(decisions, cursor);
    }

    private static final int OTHER = -1, CAPACITY = 0, NODE_SELECTOR = 1, TAINTS = 2, HEALTH = 3, CORDON = 4;
    private static final int SPREAD = 0, BIN_PACK = 1, ANTI_AFFINITY = 2;

    private static int filterKind(FilterPlugin filter) {
        return filter == Plugins.CAPACITY ? CAPACITY : filter == Plugins.NODE_SELECTOR ? NODE_SELECTOR
                : filter == Plugins.TAINTS ? TAINTS : filter == Plugins.HEALTH ? HEALTH
                : filter == Plugins.CORDON ? CORDON : OTHER;
    }

    private static int scoreKind(ScorePlugin score) {
        return score == Plugins.SPREAD ? SPREAD : score == Plugins.BIN_PACK ? BIN_PACK
                : score == Plugins.ANTI_AFFINITY ? ANTI_AFFINITY : OTHER;
    }

    /**
     * One request's scan. Nodes untouched by the batch are evaluated from the table's columns, with the same
     * arithmetic as the plugins (they share Plugins' static bodies), touching a node's record only for what the
     * columns do not hold: labels when the request has a node selector, taints when the node has a blocking one,
     * sandbox labels when the request has anti-affinity. Nodes the batch already placed on are evaluated from their
     * overlay record, through the same bodies.
     */
    private record Scan(NodeTable table, SandboxRequest request, SchedulingPolicy policy, FilterPlugin[] filters,
                        int[] filterKinds, ScorePlugin[] scorers, int[] scoreKinds, int[] weights, Resources wanted,
                        boolean hasSelector, boolean hasAntiAffinity) {

        Scan(NodeTable table, SandboxRequest request, SchedulingPolicy policy, FilterPlugin[] filters,
             int[] filterKinds, ScorePlugin[] scorers, int[] scoreKinds, int[] weights) {
            this(table, request, policy, filters, filterKinds, scorers, scoreKinds, weights, request.resources(),
                    !request.nodeSelector().isEmpty(), !request.antiAffinity().isEmpty());
        }

        String firstRejection(int index) {
            NodeTable t = table;
            byte flags = t.flags[index];
            for (int i = 0; i < filterKinds.length; i++) {
                String rejection = switch (filterKinds[i]) {
                    case CAPACITY -> Plugins.capacityRejection(t.allocVcpus[index], t.allocMemory[index],
                            t.allocVms[index], t.capVcpus[index], t.capMemory[index], t.capVms[index], wanted, policy);
                    case NODE_SELECTOR -> hasSelector ? Plugins.rejectNodeSelector(request, t.get(index)) : null;
                    case TAINTS -> (flags & NodeTable.BLOCKING_TAINT) != 0 ? Plugins.rejectTaints(request, t.get(index))
                            : null;
                    case HEALTH -> (flags & NodeTable.HEALTHY) != 0 ? null : Plugins.UNHEALTHY;
                    case CORDON -> (flags & NodeTable.CORDONED) != 0 ? Plugins.CORDONED : null;
                    default -> {
                        NodeInfo node = t.get(index);
                        yield filters[i].reject(request, node, node.allocated(), policy);
                    }
                };
                if (rejection != null) {
                    return rejection;
                }
            }
            return null;
        }

        String firstRejection(NodeInfo node) {
            Resources allocated = node.allocated();
            for (int i = 0; i < filterKinds.length; i++) {
                String rejection = switch (filterKinds[i]) {
                    case CAPACITY -> Plugins.rejectCapacity(request, node, allocated, policy);
                    case NODE_SELECTOR -> Plugins.rejectNodeSelector(request, node);
                    case TAINTS -> Plugins.rejectTaints(request, node);
                    case HEALTH -> Plugins.rejectHealth(node);
                    case CORDON -> Plugins.rejectCordon(node);
                    default -> filters[i].reject(request, node, allocated, policy);
                };
                if (rejection != null) {
                    return rejection;
                }
            }
            return null;
        }

        double score(int index) {
            NodeTable t = table;
            double total = 0;
            for (int i = 0; i < scoreKinds.length; i++) {
                double score = switch (scoreKinds[i]) {
                    case SPREAD -> 100.0 * (1.0 - Plugins.utilisation(t.allocVcpus[index], t.allocMemory[index],
                            t.allocVms[index], t.capVcpus[index], t.capMemory[index], t.capVms[index], wanted, policy));
                    case BIN_PACK -> 100.0 * Plugins.utilisation(t.allocVcpus[index], t.allocMemory[index],
                            t.allocVms[index], t.capVcpus[index], t.capMemory[index], t.capVms[index], wanted, policy);
                    case ANTI_AFFINITY -> hasAntiAffinity ? Plugins.scoreAntiAffinity(request, t.get(index)) : 100.0;
                    default -> {
                        NodeInfo node = t.get(index);
                        yield scorers[i].score(request, node, node.allocated(), policy);
                    }
                };
                total += weights[i] * score;
            }
            return total;
        }

        double score(NodeInfo node) {
            double total = 0;
            Resources allocated = node.allocated();
            for (int i = 0; i < scoreKinds.length; i++) {
                double score = switch (scoreKinds[i]) {
                    case SPREAD -> Plugins.scoreSpread(request, node, allocated, policy);
                    case BIN_PACK -> Plugins.scoreBinPack(request, node, allocated, policy);
                    case ANTI_AFFINITY -> Plugins.scoreAntiAffinity(request, node);
                    default -> scorers[i].score(request, node, allocated, policy);
                };
                total += weights[i] * score;
            }
            return total;
        }
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
