package dev.flotilla.controlplane.logs;

import dev.flotilla.contract.v1.NodeCapacity;
import dev.flotilla.controlplane.testing.Api;
import dev.flotilla.controlplane.testing.FakeNodeAgent;
import io.quarkus.test.junit.QuarkusTest;
import io.restassured.RestAssured;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

import java.time.Duration;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.UUID;

import static org.hamcrest.Matchers.containsString;
import static org.hamcrest.Matchers.equalTo;

/**
 * The log relay's answers over HTTP against agents on the wire (FakeNodeAgent serves the console snapshot of the
 * node API). The live stream against a real node agent: the dashboard's NodeAgentDashboardBrowserE2E.
 */
@QuarkusTest
class SandboxLogsTest {
    private FakeNodeAgent node;

    @AfterEach
    void stop() {
        if (node != null) {
            node.close();
        }
    }

    private FakeNodeAgent startNode() throws Exception {
        node = FakeNodeAgent.isolated("logs-" + UUID.randomUUID().toString().substring(0, 8), Api.baseUrl(),
                new NodeCapacity(8, 16384, 20), Map.of());
        node.register(Api.JOIN);
        return node;
    }

    private static String create(String name, Map<String, Object> extra) {
        Map<String, Object> spec = new HashMap<>(extra);
        spec.put("name", name);
        spec.put("image", "flotilla/tiny");
        spec.put("vcpus", 1);
        spec.put("memoryMiB", 64);
        return Api.as(Api.ADMIN).body(spec).post("/api/v1/sandboxes").then().statusCode(201).extract().path("id");
    }

    private String createOn(FakeNodeAgent agent) throws InterruptedException {
        String id = create("logs-" + UUID.randomUUID().toString().substring(0, 8),
                Map.of("tolerations", List.of(FakeNodeAgent.toleration(agent.name()))));
        Api.eventually(Duration.ofSeconds(20), "the agent to run " + id, () -> agent.vms().containsKey(id));
        return id;
    }

    @Test
    void logs_unknownSandbox_is404() {
        Api.as(Api.READER).get("/api/v1/sandboxes/no-such-sandbox/logs")
                .then().statusCode(404).body("detail", containsString("no-such-sandbox"));
    }

    @Test
    void logs_sandboxOnNoNode_is409SayingWhy() {
        String id = create("logs-pending-" + UUID.randomUUID().toString().substring(0, 8),
                Map.of("nodeSelector", Map.of("zone", "nowhere")));
        Api.as(Api.READER).get("/api/v1/sandboxes/" + id + "/logs").then().statusCode(409)
                .contentType(containsString("problem+json")).body("detail", containsString("is on no node (PENDING"));
        Api.as(Api.READER).get("/api/v1/sandboxes/" + id + "/logs/stream").then().statusCode(409);
    }

    @Test
    void logs_runningSandbox_relaysTheAgentsConsoleByTheControlPlaneId() throws Exception {
        String id = createOn(startNode());

        Api.as(Api.READER).get("/api/v1/sandboxes/" + id + "/logs")
                .then().statusCode(200).body(equalTo("fake console of " + id + "\n"));
        assert node.calls.contains("GET /api/v1/sandboxes/" + id + "/console") : node.calls;
    }

    @Test
    void logs_agentDoesNotHaveTheSandbox_is409() throws Exception {
        String id = createOn(startNode());
        node.vms().remove(id);

        Api.as(Api.READER).get("/api/v1/sandboxes/" + id + "/logs")
                .then().statusCode(409).body("detail", containsString("does not run sandbox"));
    }

    @Test
    void logs_agentUnreachable_is502NamingTheNode() throws Exception {
        String id = createOn(startNode());
        node.stopServing();

        Api.as(Api.READER).get("/api/v1/sandboxes/" + id + "/logs").then().statusCode(502)
                .body("detail", containsString("the node agent of node " + node.name()))
                .body("detail", containsString("could not be reached"));
        Api.as(Api.READER).get("/api/v1/sandboxes/" + id + "/logs/stream").then().statusCode(502);
    }

    @Test
    void logs_badContainerName_is400() {
        Api.as(Api.READER).get("/api/v1/sandboxes/x/logs?container=../etc").then().statusCode(400)
                .body("errors[0].field", equalTo("container"));
    }

    @Test
    void logs_withoutToken_is401() {
        RestAssured.given().get("/api/v1/sandboxes/x/logs").then().statusCode(401);
    }
}
