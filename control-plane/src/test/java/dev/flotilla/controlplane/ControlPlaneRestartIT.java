package dev.flotilla.controlplane;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.flotilla.contract.v1.NodeCapacity;
import dev.flotilla.controlplane.testing.ControlPlaneProcess;
import dev.flotilla.controlplane.testing.FakeNodeAgent;
import org.junit.jupiter.api.Test;

import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * The packaged control plane, started twice as a process on the same data directory: the first run starts its own
 * embedded PostgreSQL, registers a node and runs a sandbox; after SIGTERM the second run finds all of it, the node's
 * token still works, and allocations are intact. Each run must exit promptly after SIGTERM.
 */
class ControlPlaneRestartIT {
    private static final ObjectMapper JSON = new ObjectMapper();
    private static final String ADMIN = "it-admin-token";
    private static final String JOIN = "it-join-token";
    /** Hard limit: past it the process is killed and the test fails with a thread dump. */
    private static final Duration STOP_TIMEOUT = Duration.ofSeconds(60);
    /** What "promptly" means for the exit after SIGTERM on a loaded 2-core machine. */
    private static final Duration PROMPT_STOP = Duration.ofSeconds(20);
    private final HttpClient http = HttpClient.newHttpClient();

    @Test
    void restart_onSameDataDirectory_keepsNodesSandboxesAndTokens() throws Exception {
        Path dataDirectory = Files.createTempDirectory("flotilla-restart-it-");
        int port = ControlPlaneProcess.freePort();
        try {
            restartScenario(dataDirectory, port);
        } finally {
            try (var paths = Files.walk(dataDirectory)) {
                paths.sorted(java.util.Comparator.reverseOrder()).forEach(path -> path.toFile().delete());
            }
        }
    }

    private void restartScenario(Path dataDirectory, int port) throws Exception {
        String base = "http://127.0.0.1:" + port;
        String sandboxId;
        try (FakeNodeAgent node = FakeNodeAgent.isolated("restart-node", base, new NodeCapacity(4, 4096, 10), Map.of())) {
            ControlPlaneProcess first = start(dataDirectory, port, "first");
            try {
                node.register(JOIN);
                sandboxId = create(base, "before-restart", node).path("id").asText();
                waitFor(Duration.ofSeconds(60), "the sandbox runs", () -> "RUNNING".equals(get(base, "/api/v1/sandboxes/" + sandboxId)
                        .path("observedState").asText()));
            } finally {
                stop(first);
            }
            node.pauseHeartbeats();

            ControlPlaneProcess second = start(dataDirectory, port, "second");
            try {
                JsonNode sandbox = get(base, "/api/v1/sandboxes/" + sandboxId);
                assertEquals("RUNNING", sandbox.path("observedState").asText(), sandbox.toString());
                assertEquals("restart-node", sandbox.path("node").asText());
                assertEquals(200, node.heartbeat().statusCode(), "the node token issued before the restart still works");
                node.resumeHeartbeats();

                create(base, "after-restart", node);
                JsonNode nodeView = get(base, "/api/v1/nodes/restart-node");
                assertEquals(512, nodeView.path("allocated").path("memoryMiB").asInt(), nodeView.toString());
                JsonNode nodes = get(base, "/api/v1/nodes");
                assertEquals(1, nodes.path("items").size(), nodes.toString());
                List<String> types = new ArrayList<>();
                get(base, "/api/v1/sandboxes/" + sandboxId + "/events").path("items").forEach(e -> types.add(e.path("type").asText()));
                assertTrue(types.containsAll(List.of("Created", "Scheduled", "Launched")), types.toString());
            } finally {
                stop(second);
            }
        }
    }

    private static ControlPlaneProcess start(Path dataDirectory, int port, String name) throws Exception {
        return ControlPlaneProcess.start(name, dataDirectory, port, Map.of("flotilla.data-dir", dataDirectory.toString(),
                "flotilla.auth.admin-tokens", ADMIN, "flotilla.auth.join-token", JOIN)).awaitReady(Duration.ofSeconds(120));
    }

    /** SIGTERM must end the service promptly: a deployment waits for it, e.g. Kubernetes' grace period of 30 s. */
    private static void stop(ControlPlaneProcess process) throws Exception {
        Duration took = process.stop(STOP_TIMEOUT);
        assertTrue(took.compareTo(PROMPT_STOP) < 0, process.name() + " took " + took.toMillis() + " ms to exit after"
                + " SIGTERM; log:\n" + process.log());
    }

    private JsonNode create(String base, String name, FakeNodeAgent node) throws Exception {
        byte[] body = JSON.writeValueAsBytes(Map.of("name", name, "image", "alpine", "vcpus", 1, "memoryMiB", 256,
                "tolerations", List.of(FakeNodeAgent.toleration(node.name()))));
        HttpResponse<String> response = http.send(HttpRequest.newBuilder(URI.create(base + "/api/v1/sandboxes"))
                .header("Authorization", "Bearer " + ADMIN).header("Content-Type", "application/json")
                .POST(HttpRequest.BodyPublishers.ofByteArray(body)).build(), HttpResponse.BodyHandlers.ofString());
        assertEquals(201, response.statusCode(), response.body());
        JsonNode created = JSON.readTree(response.body());
        assertEquals("SCHEDULED", created.path("observedState").asText(), response.body());
        return created;
    }

    private JsonNode get(String base, String path) throws Exception {
        HttpResponse<String> response = http.send(HttpRequest.newBuilder(URI.create(base + path))
                .header("Authorization", "Bearer " + ADMIN).build(), HttpResponse.BodyHandlers.ofString());
        return JSON.readTree(response.body());
    }

    private interface Check {
        boolean ok() throws Exception;
    }

    private static void waitFor(Duration timeout, String what, Check check) throws Exception {
        long deadline = System.nanoTime() + timeout.toNanos();
        while (System.nanoTime() < deadline) {
            if (check.ok()) {
                return;
            }
            Thread.sleep(200);
        }
        throw new AssertionError("timed out after " + timeout.toSeconds() + " s waiting until " + what);
    }
}
