package dev.flotilla.controlplane.scheduler;

import dev.flotilla.contract.v1.Taint;
import dev.flotilla.contract.v1.TaintEffect;

import java.util.List;
import java.util.Map;
import java.util.Optional;

/** The built-in filter and score plugins, looked up by the names used in {@link SchedulingPolicy}. */
public final class Plugins {

    /** The node has room: vCPUs and memory within capacity times the policy's overcommit ratio, VM slots within maxVms. */
    public static final FilterPlugin CAPACITY = new FilterPlugin() {
        public String name() {
            return "capacity";
        }

        public String reject(SandboxRequest sandbox, NodeInfo node, Resources allocated, SchedulingPolicy policy) {
            return rejectCapacity(sandbox, node, allocated, policy);
        }
    };

    /** Every key=value of the sandbox's node selector is a label of the node. */
    public static final FilterPlugin NODE_SELECTOR = new FilterPlugin() {
        public String name() {
            return "node-selector";
        }

        public String reject(SandboxRequest sandbox, NodeInfo node, Resources allocated, SchedulingPolicy policy) {
            return rejectNodeSelector(sandbox, node);
        }
    };

    /** Every NoSchedule/NoExecute taint of the node is tolerated by the sandbox. */
    public static final FilterPlugin TAINTS = new FilterPlugin() {
        public String name() {
            return "taints";
        }

        public String reject(SandboxRequest sandbox, NodeInfo node, Resources allocated, SchedulingPolicy policy) {
            return rejectTaints(sandbox, node);
        }
    };

    /** The node sends heartbeats. */
    public static final FilterPlugin HEALTH = new FilterPlugin() {
        public String name() {
            return "health";
        }

        public String reject(SandboxRequest sandbox, NodeInfo node, Resources allocated, SchedulingPolicy policy) {
            return rejectHealth(node);
        }
    };

    /** The node is not cordoned. */
    public static final FilterPlugin CORDON = new FilterPlugin() {
        public String name() {
            return "cordon";
        }

        public String reject(SandboxRequest sandbox, NodeInfo node, Resources allocated, SchedulingPolicy policy) {
            return rejectCordon(node);
        }
    };

    /** Prefers the emptiest node (after placing): spreads load and failure blast radius. */
    public static final ScorePlugin SPREAD = new ScorePlugin() {
        public String name() {
            return "spread";
        }

        public double score(SandboxRequest sandbox, NodeInfo node, Resources allocated, SchedulingPolicy policy) {
            return scoreSpread(sandbox, node, allocated, policy);
        }
    };

    /** Prefers the fullest node that still fits: keeps whole nodes free for big sandboxes or for powering down. */
    public static final ScorePlugin BIN_PACK = new ScorePlugin() {
        public String name() {
            return "bin-pack";
        }

        public double score(SandboxRequest sandbox, NodeInfo node, Resources allocated, SchedulingPolicy policy) {
            return scoreBinPack(sandbox, node, allocated, policy);
        }
    };

    /** Prefers nodes with fewer sandboxes carrying all of the sandbox's anti-affinity labels (100 when none). */
    public static final ScorePlugin ANTI_AFFINITY = new ScorePlugin() {
        public String name() {
            return "anti-affinity";
        }

        public double score(SandboxRequest sandbox, NodeInfo node, Resources allocated, SchedulingPolicy policy) {
            return scoreAntiAffinity(sandbox, node);
        }
    };

    public static final List<FilterPlugin> ALL_FILTERS = List.of(CAPACITY, NODE_SELECTOR, TAINTS, HEALTH, CORDON);
    public static final List<ScorePlugin> ALL_SCORES = List.of(SPREAD, BIN_PACK, ANTI_AFFINITY);

    private Plugins() {
    }

    public static Optional<FilterPlugin> filter(String name) {
        return ALL_FILTERS.stream().filter(plugin -> plugin.name().equals(name)).findFirst();
    }

    public static Optional<ScorePlugin> score(String name) {
        return ALL_SCORES.stream().filter(plugin -> plugin.name().equals(name)).findFirst();
    }

    // The plugins' bodies, static so that the scheduler's scan can call the built-in ones directly (inlined by the
    // JIT) instead of through the interface: a call site that sees five plugin classes is megamorphic, and the scan
    // makes about seven such calls for each of the ~100 nodes it looks at per request.

    static String rejectCapacity(SandboxRequest sandbox, NodeInfo node, Resources allocated, SchedulingPolicy policy) {
        Resources capacity = node.capacity();
        return capacityRejection(allocated.vcpus(), allocated.memoryMiB(), allocated.vms(), capacity.vcpus(),
                capacity.memoryMiB(), capacity.vms(), sandbox.resources(), policy);
    }

    /** The capacity filter on plain numbers (the scheduler's scan reads them from a {@link NodeTable}). */
    static String capacityRejection(long allocVcpus, long allocMemory, long allocVms, long capVcpus, long capMemory,
                                    long capVms, Resources wanted, SchedulingPolicy policy) {
        if (allocVms + wanted.vms() > capVms) {
            return "no free VM slot";
        }
        if (allocMemory + wanted.memoryMiB() > policy.memoryLimit(capMemory)) {
            return "insufficient memory";
        }
        if (allocVcpus + wanted.vcpus() > policy.vcpuLimit(capVcpus)) {
            return "insufficient vCPUs";
        }
        return null;
    }

    static String rejectNodeSelector(SandboxRequest sandbox, NodeInfo node) {
        return sandbox.nodeSelector().isEmpty() || containsAll(node.labels(), sandbox.nodeSelector()) ? null
                : "node selector mismatch";
    }

    static String rejectTaints(SandboxRequest sandbox, NodeInfo node) {
        List<Taint> taints = node.taints();
        for (int i = 0; i < taints.size(); i++) {
            Taint taint = taints.get(i);
            if (taint.effect() == TaintEffect.PREFER_NO_SCHEDULE) {
                continue;
            }
            boolean tolerated = false;
            for (Toleration toleration : sandbox.tolerations()) {
                if (toleration.tolerates(taint)) {
                    tolerated = true;
                    break;
                }
            }
            if (!tolerated) {
                return "untolerated taint " + taint.key();
            }
        }
        return null;
    }

    static final String UNHEALTHY = "unhealthy";
    static final String CORDONED = "cordoned";

    static String rejectHealth(NodeInfo node) {
        return node.healthy() ? null : UNHEALTHY;
    }

    static String rejectCordon(NodeInfo node) {
        return node.cordoned() ? CORDONED : null;
    }

    static double scoreSpread(SandboxRequest sandbox, NodeInfo node, Resources allocated, SchedulingPolicy policy) {
        return 100.0 * (1.0 - utilisation(node, allocated, sandbox.resources(), policy));
    }

    static double scoreBinPack(SandboxRequest sandbox, NodeInfo node, Resources allocated, SchedulingPolicy policy) {
        return 100.0 * utilisation(node, allocated, sandbox.resources(), policy);
    }

    static double scoreAntiAffinity(SandboxRequest sandbox, NodeInfo node) {
        if (sandbox.antiAffinity().isEmpty()) {
            return 100.0;
        }
        int matching = 0;
        List<Map<String, String>> placed = node.sandboxLabels();
        for (int i = 0; i < placed.size(); i++) {
            if (containsAll(placed.get(i), sandbox.antiAffinity())) {
                matching++;
            }
        }
        return 100.0 / (1 + matching);
    }

    static boolean containsAll(Map<String, String> labels, Map<String, String> wanted) {
        for (Map.Entry<String, String> entry : wanted.entrySet()) {
            if (!entry.getValue().equals(labels.get(entry.getKey()))) {
                return false;
            }
        }
        return true;
    }

    /**
     * The most used of the three resources after adding {@code wanted}, as a fraction of what the policy lets be
     * allocated.
     */
    static double utilisation(NodeInfo node, Resources allocated, Resources wanted, SchedulingPolicy policy) {
        Resources capacity = node.capacity();
        return utilisation(allocated.vcpus(), allocated.memoryMiB(), allocated.vms(), capacity.vcpus(),
                capacity.memoryMiB(), capacity.vms(), wanted, policy);
    }

    static double utilisation(long allocVcpus, long allocMemory, long allocVms, long capVcpus, long capMemory,
                              long capVms, Resources wanted, SchedulingPolicy policy) {
        double cpu = fraction(allocVcpus + wanted.vcpus(), policy.vcpuLimit(capVcpus));
        double memory = fraction(allocMemory + wanted.memoryMiB(), policy.memoryLimit(capMemory));
        double vms = fraction(allocVms + wanted.vms(), capVms);
        return Math.min(1.0, Math.max(cpu, Math.max(memory, vms)));
    }

    private static double fraction(long used, long limit) {
        return limit <= 0 ? 1.0 : (double) used / limit;
    }
}
