package dev.flotilla.controlplane;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.flotilla.contract.v1.NodeCapacity;
import dev.flotilla.controlplane.testing.FakeNodeAgent;
import org.junit.jupiter.api.Test;

import java.io.IOException;
import java.net.ServerSocket;
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
import java.util.concurrent.TimeUnit;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * The packaged control plane, started twice as a process on the same data directory: the first run starts its own
 * embedded PostgreSQL, registers a node and runs a sandbox; after SIGTERM the second run finds all of it, the node's
 * token still works, and allocations are intact.
 */
class ControlPlaneRestartIT {
    private static final ObjectMapper JSON = new ObjectMapper();
    private static final String ADMIN = "it-admin-token";
    private static final String JOIN = "it-join-token";
    private final HttpClient http = HttpClient.newHttpClient();

    @Test
    void restart_onSameDataDirectory_keepsNodesSandboxesAndTokens() throws Exception {
        Path dataDirectory = Files.createTempDirectory("flotilla-restart-it-");
        int port;
        try (ServerSocket socket = new ServerSocket(0)) {
            port = socket.getLocalPort();
        }
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
            Process first = start(dataDirectory, port, "first");
            try {
                node.register(JOIN);
                sandboxId = create(base, "before-restart", node).path("id").asText();
                waitFor(Duration.ofSeconds(60), "the sandbox runs", () -> "RUNNING".equals(get(base, "/api/v1/sandboxes/" + sandboxId)
                        .path("observedState").asText()));
            } finally {
                stop(first);
            }
            node.pauseHeartbeats();

            Process second = start(dataDirectory, port, "second");
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

    private Process start(Path dataDirectory, int port, String name) throws Exception {
        String jar = System.getProperty("flotilla.app.jar");
        assertTrue(jar != null && Files.exists(Path.of(jar)), "the packaged application is missing: " + jar);
        Path log = dataDirectory.resolve(name + ".log");
        Process process = new ProcessBuilder(Path.of(System.getProperty("java.home"), "bin", "java").toString(),
                "-Dflotilla.data-dir=" + dataDirectory, "-Dquarkus.http.port=" + port,
                "-Dflotilla.auth.admin-tokens=" + ADMIN, "-Dflotilla.auth.join-token=" + JOIN,
                "-jar", jar)
                .redirectErrorStream(true).redirectOutput(log.toFile()).start();
        String base = "http://127.0.0.1:" + port;
        try {
            waitFor(Duration.ofSeconds(120), "the " + name + " control plane is ready", () -> {
                if (!process.isAlive()) {
                    throw new IllegalStateException("the control plane exited with " + process.exitValue() + "; log:\n"
                            + Files.readString(log));
                }
                return status(base + "/q/health/ready") == 200;
            });
        } catch (AssertionError e) {
            process.destroyForcibly();
            throw new AssertionError(e.getMessage() + "; log:\n" + Files.readString(log), e);
        }
        return process;
    }

    private static void stop(Process process) throws Exception {
        process.destroy(); // SIGTERM: Quarkus shuts down, then the embedded PostgreSQL is stopped
        if (!process.waitFor(60, TimeUnit.SECONDS)) {
            Process jstack = new ProcessBuilder(Path.of(System.getProperty("java.home"), "bin", "jstack").toString(),
                    Long.toString(process.pid())).redirectErrorStream(true).start();
            String threads = new String(jstack.getInputStream().readAllBytes());
            process.destroyForcibly();
            throw new AssertionError("the control plane did not stop within 60 s of SIGTERM; threads:\n" + threads);
        }
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

    private int status(String url) {
        try {
            return http.send(HttpRequest.newBuilder(URI.create(url)).timeout(Duration.ofSeconds(2)).build(),
                    HttpResponse.BodyHandlers.discarding()).statusCode();
        } catch (IOException | InterruptedException e) {
            return -1;
        }
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
