package dev.flotilla.controlplane.config;

import io.smallrye.config.ConfigMapping;
import io.smallrye.config.WithDefault;

import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.Optional;

/** Every {@code flotilla.*} setting of the control plane, with its default. */
@ConfigMapping(prefix = "flotilla")
public interface FlotillaConfig {

    /** Where the embedded PostgreSQL cluster and generated tokens are kept. */
    @WithDefault("${user.home}/.local/share/flotilla/control-plane")
    String dataDir();

    EmbeddedPostgres embeddedPostgres();

    Auth auth();

    Nodes nodes();

    Scheduler scheduler();

    Reconciler reconciler();

    Kubernetes kubernetes();

    /** Read by ControlPlaneMain before Quarkus starts, only when no JDBC URL is configured. */
    interface EmbeddedPostgres {
        /** TCP port on 127.0.0.1 (0 = any free port). */
        @WithDefault("0")
        int port();

        /** Wipe the cluster before starting (benchmarks). */
        @WithDefault("false")
        boolean fresh();

        /** fsync and synchronous_commit on; off only for throwaway clusters. */
        @WithDefault("true")
        boolean durable();
    }

    interface Auth {
        /** Token node agents present to register. Unset: one is generated into {@code <data-dir>/join-token}. */
        Optional<String> joinToken();

        /** Bearer tokens with full access. Unset: one is generated into {@code <data-dir>/admin-token}. */
        Optional<List<String>> adminTokens();

        /** Bearer tokens that may only read. */
        Optional<List<String>> readOnlyTokens();
    }

    interface Nodes {
        /** How often agents are asked to send heartbeats. */
        @WithDefault("10s")
        Duration heartbeatInterval();

        /** A node silent for this long is marked UNHEALTHY and its sandboxes are moved or failed. */
        @WithDefault("30s")
        Duration heartbeatTimeout();
    }

    interface Scheduler {
        /** Filter plugins, all must pass: capacity, node-selector, taints, health, cordon. */
        @WithDefault("capacity,node-selector,taints,health,cordon")
        List<String> filters();

        /** Score plugins and weights: spread, bin-pack, anti-affinity. */
        @WithDefault("spread=1,anti-affinity=2")
        String scores();

        /** Allocatable vCPUs per physical vCPU. */
        @WithDefault("4.0")
        double vcpuOvercommit();

        /** Allocatable memory per MiB of node memory. */
        @WithDefault("1.0")
        double memoryOvercommit();

        /** Feasible nodes scored per sandbox before picking (0 = all). */
        @WithDefault("100")
        int maxNodesToScore();

        /** Most sandboxes placed in one database transaction. */
        @WithDefault("512")
        int maxBatch();

        /** Full reload of the scheduler's node cache, to see other replicas' changes. */
        @WithDefault("10s")
        Duration fleetRefreshInterval();
    }

    interface Reconciler {
        /** Drive node agents toward desired state, detect lost nodes, retry pending placements. */
        @WithDefault("true")
        boolean enabled();

        @WithDefault("1s")
        Duration interval();

        /** Timeout of one call to a node agent. */
        @WithDefault("5s")
        Duration agentTimeout();

        /** First retry delay after a failed agent call; doubles per attempt up to retry-max. */
        @WithDefault("1s")
        Duration retryBase();

        @WithDefault("60s")
        Duration retryMax();

        /** Agent calls in flight at once. */
        @WithDefault("32")
        int concurrency();
    }

    interface Kubernetes {
        /** Reconcile MicroVM custom resources into sandboxes. */
        @WithDefault("false")
        boolean enabled();

        /** Namespace to watch; unset watches all namespaces. */
        Optional<String> namespace();

        @WithDefault("2s")
        Duration interval();
    }

    /** Parses "spread=1,anti-affinity=2" into an ordered map. */
    static Map<String, Integer> parseWeights(String text) {
        Map<String, Integer> weights = new java.util.LinkedHashMap<>();
        for (String part : text.split(",")) {
            if (part.isBlank()) {
                continue;
            }
            String[] pair = part.split("=", 2);
            try {
                weights.put(pair[0].trim(), pair.length == 2 ? Integer.parseInt(pair[1].trim()) : 1);
            } catch (NumberFormatException e) {
                throw new IllegalArgumentException("flotilla.scheduler.scores: weight of '" + pair[0].trim()
                        + "' is not an integer: '" + pair[1].trim() + "'", e);
            }
        }
        return weights;
    }
}
