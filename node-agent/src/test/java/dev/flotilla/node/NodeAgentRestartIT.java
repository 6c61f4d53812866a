package dev.flotilla.node;

import com.fasterxml.jackson.databind.JsonNode;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Map;

import static dev.flotilla.node.AgentProcesses.await;
import static dev.flotilla.node.AgentProcesses.call;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** The packaged agent killed and restarted on one state directory: VMs of the dead process are reported lost. */
class NodeAgentRestartIT {
    private static final String TOKEN = "restart-it-token";
    private Process agent;

    @AfterEach
    void stopAgent() throws InterruptedException {
        AgentProcesses.stop(agent);
    }

    private String startAgent(Path state, int port, Path log) throws Exception {
        agent = AgentProcesses.start(Path.of(System.getProperty("flotilla.app.jar")), Map.of(
                "FLOTILLA_NODE_STATE_DIR", state.toString(), "QUARKUS_HTTP_PORT", Integer.toString(port),
                "FLOTILLA_NODE_AUTH_TOKENS", TOKEN), log);
        String base = "http://127.0.0.1:" + port;
        await("the agent is ready", base + "/q/health/ready", null, a -> a.status() == 200, Duration.ofSeconds(90), log);
        return base;
    }

    @Test
    void restart_afterKill_reportsVmsLost_andSigtermStopsVmsCleanly(@TempDir Path state) throws Exception {
        int port = AgentProcesses.freePort();
        Path log = state.resolve("agent.log");
        String base = startAgent(state, port, log);
        for (String name : new String[]{"first", "second"}) {
            assertEquals(201, call("POST", base + "/api/v1/sandboxes", TOKEN, "{\"name\":\"" + name + "\"}").status());
            await(name + " runs", base + "/api/v1/sandboxes/" + name, TOKEN,
                    a -> "RUNNING".equals(a.body().path("state").asText()), Duration.ofSeconds(30), log);
        }

        agent.destroyForcibly().waitFor(); // SIGKILL: no shutdown hook, the VMs die with the process
        base = startAgent(state, port, log);
        for (String name : new String[]{"first", "second"}) {
            JsonNode s = call("GET", base + "/api/v1/sandboxes/" + name, TOKEN, null).body();
            assertEquals("FAILED", s.path("state").asText(), s.toString());
            assertTrue(s.path("message").asText().startsWith("lost:"), s.toString());
        }
        assertEquals(0, call("GET", base + "/api/v1/node", TOKEN, null).body().path("used").path("vms").asInt());

        assertEquals(201, call("POST", base + "/api/v1/sandboxes", TOKEN, "{\"name\":\"third\"}").status());
        await("third runs", base + "/api/v1/sandboxes/third", TOKEN,
                a -> "RUNNING".equals(a.body().path("state").asText()), Duration.ofSeconds(30), log);
        AgentProcesses.stop(agent); // SIGTERM: graceful
        String third;
        try (var files = Files.list(state.resolve("sandboxes"))) {
            third = files.map(f -> {
                try {
                    return Files.readString(f);
                } catch (java.io.IOException e) {
                    throw new java.io.UncheckedIOException(e);
                }
            }).filter(t -> t.contains("\"name\":\"third\"")).findFirst().orElseThrow();
        }
        assertTrue(third.contains("\"state\":\"STOPPED\"") && third.contains("stopped because the node agent shut down"), third);
    }
}
