package dev.flotilla.controlplane;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.flotilla.contract.v1.NodeCapacity;
import dev.flotilla.controlplane.testing.Api;
import dev.flotilla.controlplane.testing.FakeNodeAgent;
import io.agroal.api.AgroalDataSource;
import io.quarkus.test.junit.QuarkusTest;
import jakarta.inject.Inject;
import org.junit.jupiter.api.Test;

import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.UUID;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.atomic.AtomicInteger;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * Many API clients, plus a second "replica" writing placements straight into the database with the same locking
 * protocol, compete for three small nodes: no node may end up beyond capacity, and allocations must match.
 */
@QuarkusTest
class ConcurrentPlacementTest {
    private static final ObjectMapper JSON = new ObjectMapper();
    private static final int NODE_MEMORY = 1024;
    private static final int SANDBOX_MEMORY = 128;
    private static final int REQUESTS = 60;
    private static final int REPLICA_ATTEMPTS = 6;

    @Inject
    AgroalDataSource dataSource;

    @Test
    void concurrentCreates_andCompetingReplica_neverOverbookANode() throws Exception {
        String run = UUID.randomUUID().toString().substring(0, 8);
        List<FakeNodeAgent> agents = new ArrayList<>();
        try {
            for (int i = 0; i < 3; i++) {
                FakeNodeAgent agent = FakeNodeAgent.isolated("race-" + run + "-" + i, Api.baseUrl(),
                        new NodeCapacity(64, NODE_MEMORY, 100), Map.of("race", run));
                agent.register(Api.JOIN);
                agents.add(agent);
            }
            List<Map<String, Object>> tolerations = agents.stream().map(agent -> FakeNodeAgent.toleration(agent.name())).toList();
            HttpClient http = HttpClient.newHttpClient();
            AtomicInteger scheduled = new AtomicInteger();
            AtomicInteger replicaPlaced = new AtomicInteger();

            List<Future<?>> futures = new ArrayList<>();
            try (ExecutorService clients = Executors.newFixedThreadPool(24)) {
                // The other replica first takes all but one slot of each node, so this control plane's node cache is
                // stale when the API requests arrive; then both keep going at the same time.
                for (int i = 0; i < 21; i++) {
                    if (placeLikeAnotherReplica(UUID.fromString(agents.get(i % agents.size()).nodeId()), "race-" + run + "-early-" + i)) {
                        replicaPlaced.incrementAndGet();
                    }
                }
                for (int i = 0; i < REPLICA_ATTEMPTS; i++) {
                    String nodeId = agents.get(i % agents.size()).nodeId();
                    String name = "race-" + run + "-replica-" + i;
                    futures.add(clients.submit(() -> {
                        if (placeLikeAnotherReplica(UUID.fromString(nodeId), name)) {
                            replicaPlaced.incrementAndGet();
                        }
                        return null;
                    }));
                }
                for (int i = 0; i < REQUESTS; i++) {
                    int index = i;
                    futures.add(clients.submit(() -> {
                        Map<String, Object> spec = Map.of("name", "race-" + run + "-sb-" + index, "image", "alpine",
                                "vcpus", 1, "memoryMiB", SANDBOX_MEMORY, "nodeSelector", Map.of("race", run),
                                "tolerations", tolerations, "restartPolicy", "NEVER");
                        HttpRequest request = HttpRequest.newBuilder(URI.create(Api.baseUrl() + "/api/v1/sandboxes"))
                                .header("Authorization", "Bearer " + Api.ADMIN).header("Content-Type", "application/json")
                                .POST(HttpRequest.BodyPublishers.ofByteArray(JSON.writeValueAsBytes(spec))).build();
                        HttpResponse<String> response = http.send(request, HttpResponse.BodyHandlers.ofString());
                        assertEquals(201, response.statusCode(), response.body());
                        JsonNode body = JSON.readTree(response.body());
                        if ("SCHEDULED".equals(body.path("observedState").asText())) {
                            scheduled.incrementAndGet();
                        }
                        return null;
                    }));
                }
                for (Future<?> future : futures) {
                    future.get();
                }
            }

            int capacity = 3 * (NODE_MEMORY / SANDBOX_MEMORY);
            for (FakeNodeAgent agent : agents) {
                long[] totals = totals(UUID.fromString(agent.nodeId()));
                assertTrue(totals[0] <= NODE_MEMORY, "node " + agent.name() + " holds " + totals[0] + " MiB of sandboxes");
                assertEquals(totals[0], totals[1], "allocation of " + agent.name() + " matches its sandboxes");
            }
            assertTrue(replicaPlaced.get() > 0, "the competing replica placed nothing; the race did not happen");
            assertEquals(capacity, scheduled.get() + replicaPlaced.get(),
                    "every slot is used exactly once (API " + scheduled.get() + ", replica " + replicaPlaced.get() + ")");
        } finally {
            agents.forEach(FakeNodeAgent::close);
        }
    }

    /** What another control-plane replica's placement does: lock the node row, check, insert, update. */
    private boolean placeLikeAnotherReplica(UUID nodeId, String name) throws Exception {
        try (Connection connection = dataSource.getConnection()) {
            connection.setAutoCommit(false);
            try (PreparedStatement lock = connection.prepareStatement(
                    "SELECT cap_memory_mib, alloc_memory_mib, name FROM node WHERE id = ? FOR UPDATE")) {
                lock.setObject(1, nodeId);
                try (ResultSet row = lock.executeQuery()) {
                    row.next();
                    if (row.getLong(2) + SANDBOX_MEMORY > row.getLong(1)) {
                        connection.rollback();
                        return false;
                    }
                    String nodeName = row.getString(3);
                    try (PreparedStatement insert = connection.prepareStatement("""
                            INSERT INTO sandbox (id, name, image, vcpus, memory_mib, restart_policy, desired_state,
                                                 observed_state, node_id, last_node_name, created_at, updated_at, placed_at)
                            VALUES (?, ?, 'alpine', 1, ?, 'NEVER', 'RUNNING', 'SCHEDULED', ?, ?, now(), now(), now())""")) {
                        insert.setObject(1, UUID.randomUUID());
                        insert.setString(2, name);
                        insert.setInt(3, SANDBOX_MEMORY);
                        insert.setObject(4, nodeId);
                        insert.setString(5, nodeName);
                        insert.executeUpdate();
                    }
                    try (PreparedStatement update = connection.prepareStatement("""
                            UPDATE node SET alloc_vcpus = alloc_vcpus + 1, alloc_memory_mib = alloc_memory_mib + ?,
                                            alloc_vms = alloc_vms + 1 WHERE id = ?""")) {
                        update.setInt(1, SANDBOX_MEMORY);
                        update.setObject(2, nodeId);
                        update.executeUpdate();
                    }
                }
            }
            connection.commit();
            return true;
        }
    }

    /** {sum of placed sandboxes' memory, node's alloc_memory_mib}. */
    private long[] totals(UUID nodeId) throws Exception {
        try (Connection connection = dataSource.getConnection(); PreparedStatement statement = connection.prepareStatement("""
                SELECT coalesce((SELECT sum(memory_mib) FROM sandbox WHERE node_id = n.id), 0), n.alloc_memory_mib
                FROM node n WHERE n.id = ?""")) {
            statement.setObject(1, nodeId);
            try (ResultSet row = statement.executeQuery()) {
                row.next();
                return new long[]{row.getLong(1), row.getLong(2)};
            }
        }
    }
}
