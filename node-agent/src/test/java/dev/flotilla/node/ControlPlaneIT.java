package dev.flotilla.node;

import com.fasterxml.jackson.databind.JsonNode;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Path;
import java.time.Duration;
import java.util.Map;

import static dev.flotilla.node.AgentProcesses.await;
import static dev.flotilla.node.AgentProcesses.call;
import static org.junit.jupiter.api.Assertions.assertEquals;

/**
 * The node agent with the real control plane (its packaged jar, embedded PostgreSQL): registration with the join
 * token, a sandbox placed by the control plane and launched through contract v1, deletion, and the agent keeping
 * its VM while the control plane is down, then re-syncing when it returns.
 */
class ControlPlaneIT {
    private static final String ADMIN = "cp-admin-token";
    private static final String JOIN = "cp-join-token";
    private static final String AGENT_TOKEN = "cp-it-agent-token";
    private Process controlPlane;
    private Process agent;

    @AfterEach
    void stopAll() throws InterruptedException {
        AgentProcesses.stop(agent);
        AgentProcesses.stop(controlPlane);
    }

    private Process startControlPlane(Path data, int port, Path log) throws Exception {
        Process p = AgentProcesses.start(Path.of(System.getProperty("flotilla.controlplane.jar")), Map.of(
                "FLOTILLA_DATA_DIR", data.toString(), "QUARKUS_HTTP_PORT", Integer.toString(port),
                "FLOTILLA_AUTH_ADMIN_TOKENS", ADMIN, "FLOTILLA_AUTH_JOIN_TOKEN", JOIN,
                "FLOTILLA_NODES_HEARTBEAT_INTERVAL", "1s", "FLOTILLA_NODES_HEARTBEAT_TIMEOUT", "10s",
                "FLOTILLA_RECONCILER_RETRY_MAX", "2s"), log);
        await("the control plane is ready", "http://127.0.0.1:" + port + "/q/health/ready", null,
                a -> a.status() == 200, Duration.ofSeconds(180), log);
        return p;
    }

    @Test
    void sandbox_createdOnControlPlane_runsOnTheAgent_andSurvivesAControlPlaneOutage(@TempDir Path dir) throws Exception {
        int cpPort = AgentProcesses.freePort();
        int agentPort = AgentProcesses.freePort();
        String cp = "http://127.0.0.1:" + cpPort;
        String ag = "http://127.0.0.1:" + agentPort;
        Path cpLog = dir.resolve("control-plane.log");
        Path agentLog = dir.resolve("agent.log");
        controlPlane = startControlPlane(dir.resolve("cp-data"), cpPort, cpLog);
        agent = AgentProcesses.start(Path.of(System.getProperty("flotilla.app.jar")), Map.of(
                "FLOTILLA_NODE_STATE_DIR", dir.resolve("agent-state").toString(), "QUARKUS_HTTP_PORT", Integer.toString(agentPort),
                "FLOTILLA_NODE_AUTH_TOKENS", AGENT_TOKEN, "FLOTILLA_NODE_NAME", "it-node",
                "FLOTILLA_NODE_CONTROL_PLANE_URL", cp, "FLOTILLA_NODE_CONTROL_PLANE_JOIN_TOKEN", JOIN,
                "FLOTILLA_NODE_CONTROL_PLANE_ADVERTISE_URL", ag, "FLOTILLA_NODE_CONTROL_PLANE_RETRY_MAX", "1s"), agentLog);

        await("the node is READY on the control plane", cp + "/api/v1/nodes/it-node", ADMIN,
                a -> "READY".equals(a.body().path("state").asText()), Duration.ofSeconds(120), agentLog);

        assertEquals(201, call("POST", cp + "/api/v1/sandboxes", ADMIN,
                "{\"name\":\"via-cp\",\"image\":\"flotilla/tiny\",\"vcpus\":1,\"memoryMiB\":16}").status());
        JsonNode placed = await("the control plane sees via-cp RUNNING", cp + "/api/v1/sandboxes/via-cp", ADMIN,
                a -> "RUNNING".equals(a.body().path("observedState").asText()), Duration.ofSeconds(60), agentLog);
        String id = placed.path("id").asText();
        assertEquals("it-node", placed.path("node").asText());
        assertEquals("RUNNING", call("GET", ag + "/v1/sandboxes/" + id, AGENT_TOKEN, null).body().path("state").asText());

        AgentProcesses.stop(controlPlane);
        await("the agent notices the outage", ag + "/api/v1/node", AGENT_TOKEN,
                a -> "UNREACHABLE".equals(a.body().path("controlPlane").path("state").asText()), Duration.ofSeconds(30), agentLog);
        assertEquals("RUNNING", call("GET", ag + "/v1/sandboxes/" + id, AGENT_TOKEN, null).body().path("state").asText());

        controlPlane = startControlPlane(dir.resolve("cp-data"), cpPort, cpLog);
        await("the agent reconnects", ag + "/api/v1/node", AGENT_TOKEN,
                a -> "CONNECTED".equals(a.body().path("controlPlane").path("state").asText()), Duration.ofSeconds(60), agentLog);
        await("the control plane still sees via-cp RUNNING", cp + "/api/v1/sandboxes/via-cp", ADMIN,
                a -> "RUNNING".equals(a.body().path("observedState").asText()), Duration.ofSeconds(30), cpLog);

        call("DELETE", cp + "/api/v1/sandboxes/via-cp", ADMIN, null);
        await("the agent removed the sandbox", ag + "/v1/sandboxes/" + id, AGENT_TOKEN,
                a -> a.status() == 404, Duration.ofSeconds(60), agentLog);
    }
}
