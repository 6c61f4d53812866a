package dev.flotilla.controlplane;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.flotilla.contract.v1.NodeCapacity;
import dev.flotilla.controlplane.storage.EmbeddedDatabase;
import dev.flotilla.controlplane.testing.ControlPlaneProcess;
import dev.flotilla.controlplane.testing.FakeNodeAgent;
import org.junit.jupiter.api.Test;

import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Files;
import java.nio.file.Path;
import java.sql.Connection;
import java.sql.DriverManager;
import java.sql.ResultSet;
import java.sql.Statement;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.atomic.AtomicInteger;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * Two control-plane processes (the packaged service) against ONE PostgreSQL, both taking sandbox creations at the
 * same time for the same three small nodes: no node may end up beyond its capacity, allocations must match the
 * sandboxes placed, and every slot ends up used exactly once.
 *
 * <p>Each replica's node cache only learns the other's placements at its periodic reload, so during the burst both
 * keep choosing nodes the other has just filled: only the placement transaction's row-locked re-check stands between
 * that and an overbooked node. Both reconcilers run too, re-offering PENDING sandboxes to placement concurrently.
 */
class ReplicasPlacementIT {
    private static final ObjectMapper JSON = new ObjectMapper();
    private static final String ADMIN = "replicas-it-admin";
    private static final String JOIN = "replicas-it-join";
    private static final int NODES = 3;
    private static final long NODE_MEMORY = 2048;
    private static final long SANDBOX_MEMORY = 256;
    private static final int SLOTS = (int) (NODES * (NODE_MEMORY / SANDBOX_MEMORY));
    private static final int REQUESTS_PER_REPLICA = 40;
    private final HttpClient http = HttpClient.newHttpClient();

    @Test
    void twoReplicas_oneDatabase_concurrentCreates_neverOverbookANode() throws Exception {
        Path directory = Files.createTempDirectory("flotilla-replicas-it-");
        EmbeddedDatabase database = EmbeddedDatabase.start(directory.resolve("db"), 0, true, false);
        List<ControlPlaneProcess> replicas = new ArrayList<>();
        List<FakeNodeAgent> agents = new ArrayList<>();
        try {
            for (String name : List.of("replica-a", "replica-b")) {
                replicas.add(ControlPlaneProcess.start(name, directory, Map.of(
                        "quarkus.datasource.jdbc.url", database.jdbcUrl(),
                        "quarkus.datasource.username", database.username(),
                        "flotilla.data-dir", directory.resolve(name).toString(),
                        "flotilla.auth.admin-tokens", ADMIN,
                        "flotilla.auth.join-token", JOIN,
                        "flotilla.scheduler.fleet-refresh-interval", "1s",
                        "flotilla.reconciler.retry-base", "200ms",
                        "flotilla.nodes.heartbeat-timeout", "5m")));
            }
            for (ControlPlaneProcess replica : replicas) {
                replica.awaitReady(Duration.ofSeconds(120));
            }
            // The nodes register with the first replica; the second finds them at its next reload (1 s).
            for (int i = 0; i < NODES; i++) {
                FakeNodeAgent agent = new FakeNodeAgent("replicas-node-" + i, replicas.getFirst().baseUrl(),
                        new NodeCapacity(8, NODE_MEMORY, 100), Map.of("pool", "replicas"), List.of());
                agent.register(JOIN);
                agents.add(agent);
            }
            Thread.sleep(2500);

            AtomicInteger[] scheduledBy = {new AtomicInteger(), new AtomicInteger()};
            List<Future<?>> requests = new ArrayList<>();
            try (ExecutorService clients = Executors.newFixedThreadPool(32)) {
                for (int i = 0; i < REQUESTS_PER_REPLICA; i++) {
                    for (int r = 0; r < replicas.size(); r++) {
                        ControlPlaneProcess replica = replicas.get(r);
                        AtomicInteger scheduled = scheduledBy[r];
                        String name = "sb-" + replica.name() + "-" + i;
                        requests.add(clients.submit(() -> {
                            if ("SCHEDULED".equals(create(replica, name).path("observedState").asText())) {
                                scheduled.incrementAndGet();
                            }
                            return null;
                        }));
                    }
                }
                for (Future<?> request : requests) {
                    request.get();
                }
            }

            assertTrue(scheduledBy[0].get() > 0 && scheduledBy[1].get() > 0, "both replicas must have placed sandboxes"
                    + " for the race to have happened (A " + scheduledBy[0] + ", B " + scheduledBy[1] + ")");
            // Requests that ran out of placement attempts stay PENDING and are placed by either reconciler.
            long deadline = System.nanoTime() + Duration.ofSeconds(30).toNanos();
            long placed;
            while ((placed = count(database, "SELECT count(*) FROM sandbox WHERE node_id IS NOT NULL")) < SLOTS
                    && System.nanoTime() < deadline) {
                Thread.sleep(200);
            }
            assertEquals(SLOTS, placed, "every slot of the fleet is used exactly once");
            assertEquals(0, count(database, """
                    SELECT count(*) FROM node n
                    WHERE (SELECT coalesce(sum(memory_mib), 0) FROM sandbox s WHERE s.node_id = n.id) > n.cap_memory_mib
                       OR n.alloc_memory_mib > n.cap_memory_mib"""), "nodes over capacity");
            assertEquals(0, count(database, """
                    SELECT count(*) FROM node n
                    WHERE n.alloc_memory_mib <> (SELECT coalesce(sum(memory_mib), 0) FROM sandbox s WHERE s.node_id = n.id)
                       OR n.alloc_vms <> (SELECT count(*) FROM sandbox s WHERE s.node_id = n.id)"""),
                    "nodes whose allocation does not match the sandboxes placed on them");
            for (ControlPlaneProcess replica : replicas) {
                JsonNode fleet = get(replica, "/api/v1/fleet");
                assertEquals(SLOTS * SANDBOX_MEMORY, fleet.path("allocated").path("memoryMiB").asLong(),
                        replica.name() + " sees the whole fleet's allocation: " + fleet);
            }
        } finally {
            agents.forEach(FakeNodeAgent::close);
            for (ControlPlaneProcess replica : replicas) {
                replica.stop(Duration.ofSeconds(60));
            }
            database.close();
            try (var paths = Files.walk(directory)) {
                paths.sorted(java.util.Comparator.reverseOrder()).forEach(path -> path.toFile().delete());
            }
        }
    }

    private JsonNode create(ControlPlaneProcess replica, String name) throws Exception {
        byte[] body = JSON.writeValueAsBytes(Map.of("name", name, "image", "alpine", "vcpus", 1,
                "memoryMiB", SANDBOX_MEMORY, "nodeSelector", Map.of("pool", "replicas")));
        HttpResponse<String> response = http.send(HttpRequest.newBuilder(URI.create(replica.baseUrl() + "/api/v1/sandboxes"))
                .header("Authorization", "Bearer " + ADMIN).header("Content-Type", "application/json")
                .POST(HttpRequest.BodyPublishers.ofByteArray(body)).build(), HttpResponse.BodyHandlers.ofString());
        assertEquals(201, response.statusCode(), replica.name() + ": " + response.body());
        return JSON.readTree(response.body());
    }

    private JsonNode get(ControlPlaneProcess replica, String path) throws Exception {
        HttpResponse<String> response = http.send(HttpRequest.newBuilder(URI.create(replica.baseUrl() + path))
                .header("Authorization", "Bearer " + ADMIN).build(), HttpResponse.BodyHandlers.ofString());
        assertEquals(200, response.statusCode(), replica.name() + " " + path + ": " + response.body());
        return JSON.readTree(response.body());
    }

    private static long count(EmbeddedDatabase database, String sql) throws Exception {
        try (Connection connection = DriverManager.getConnection(database.jdbcUrl());
             Statement statement = connection.createStatement(); ResultSet rows = statement.executeQuery(sql)) {
            rows.next();
            return rows.getLong(1);
        }
    }
}
