package dev.flotilla.controlplane;

import dev.flotilla.contract.v1.NodeCapacity;
import dev.flotilla.contract.v1.VmState;
import dev.flotilla.controlplane.testing.Api;
import dev.flotilla.controlplane.testing.FakeNodeAgent;
import io.quarkus.test.junit.QuarkusTest;
import io.restassured.path.json.JsonPath;
import org.junit.jupiter.api.Test;

import java.time.Duration;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.UUID;

import static org.hamcrest.Matchers.hasItem;
import static org.hamcrest.Matchers.hasItems;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** The reconciler against real HTTP node agents: launches, retries, restarts, node loss and return, drain, delete. */
@QuarkusTest
class NodeLifecycleTest {
    private static final Duration WAIT = Duration.ofSeconds(20);

    private static String unique(String prefix) {
        return prefix + "-" + UUID.randomUUID().toString().substring(0, 8);
    }

    private static FakeNodeAgent agent(String name) throws Exception {
        return FakeNodeAgent.isolated(name, Api.baseUrl(), new NodeCapacity(4, 2048, 10), Map.of());
    }

    private static String create(String name, String restartPolicy, FakeNodeAgent... tolerated) {
        Map<String, Object> spec = new HashMap<>();
        spec.put("name", name);
        spec.put("image", "docker.io/library/alpine:3.20");
        spec.put("vcpus", 1);
        spec.put("memoryMiB", 256);
        spec.put("restartPolicy", restartPolicy);
        spec.put("tolerations", java.util.Arrays.stream(tolerated).map(agent -> FakeNodeAgent.toleration(agent.name())).toList());
        return Api.as(Api.ADMIN).body(spec).post("/api/v1/sandboxes").then().statusCode(201).extract().path("id");
    }

    private static JsonPath sandbox(String id) {
        return Api.as(Api.READER).get("/api/v1/sandboxes/" + id).then().extract().jsonPath();
    }

    private static boolean is(String id, String state, String node) {
        JsonPath sandbox = sandbox(id);
        return state.equals(sandbox.getString("observedState")) && (node == null || node.equals(sandbox.getString("node")));
    }

    @Test
    void placedSandbox_isLaunchedOnItsNode_andReportsRunning() throws Exception {
        try (FakeNodeAgent node = agent(unique("launch"))) {
            node.register(Api.JOIN);
            String id = create(unique("sb"), "ALWAYS", node);

            Api.eventually(WAIT, "the sandbox runs on " + node.name(), () -> is(id, "RUNNING", node.name()));
            assertEquals(VmState.RUNNING, node.vms().get(id).state());
            Api.eventually(WAIT, "a heartbeat recorded the boot time", () -> sandbox(id).get("bootTimeMillis") != null);
            Api.as(Api.READER).get("/api/v1/sandboxes/" + id + "/events").then()
                    .body("items.type", hasItems("Created", "Scheduled", "Launched"));
        }
    }

    @Test
    void failingAgent_callsAreRetried_untilTheSandboxRuns() throws Exception {
        try (FakeNodeAgent node = agent(unique("flaky"))) {
            node.register(Api.JOIN);
            node.failNextCalls.set(3);
            String id = create(unique("sb"), "ALWAYS", node);

            Api.eventually(WAIT, "the sandbox runs despite 3 failed calls", () -> is(id, "RUNNING", node.name()));
            long puts = node.calls.stream().filter(call -> call.equals("PUT /v1/sandboxes/" + id)).count();
            assertTrue(puts >= 4, "expected at least 4 launch attempts, saw " + node.calls);
            Api.as(Api.READER).get("/api/v1/sandboxes/" + id + "/events").then()
                    .body("items.type", hasItem("AgentCallFailed"));
        }
    }

    @Test
    void crashedVm_withRestartAlways_isLaunchedAgainWithNewGeneration() throws Exception {
        try (FakeNodeAgent node = agent(unique("crash"))) {
            node.register(Api.JOIN);
            String id = create(unique("sb"), "ALWAYS", node);
            Api.eventually(WAIT, "the sandbox runs", () -> is(id, "RUNNING", node.name()));

            node.endVm(id, VmState.FAILED, "guest panicked");

            Api.eventually(WAIT, "the VM is relaunched with generation 2",
                    () -> node.vms().get(id).generation() == 2 && node.vms().get(id).state() == VmState.RUNNING);
            Api.eventually(WAIT, "the sandbox runs again", () -> is(id, "RUNNING", node.name()));
            assertEquals(1, sandbox(id).getInt("restarts"));
        }
    }

    @Test
    void stopThenDelete_placedSandbox_stopsVm_thenRemovesItAndReleasesCapacity() throws Exception {
        try (FakeNodeAgent node = agent(unique("del"))) {
            node.register(Api.JOIN);
            String id = create(unique("sb"), "ALWAYS", node);
            Api.eventually(WAIT, "the sandbox runs", () -> is(id, "RUNNING", node.name()));

            Api.as(Api.ADMIN).post("/api/v1/sandboxes/" + id + "/stop").then().statusCode(200);
            Api.eventually(WAIT, "the VM is stopped", () -> node.vms().get(id).state() == VmState.STOPPED);
            Api.eventually(WAIT, "the sandbox is STOPPED", () -> is(id, "STOPPED", node.name()));

            Api.as(Api.ADMIN).delete("/api/v1/sandboxes/" + id).then().statusCode(202);
            Api.eventually(WAIT, "the sandbox is gone", () ->
                    Api.as(Api.READER).get("/api/v1/sandboxes/" + id).statusCode() == 404);
            assertTrue(node.vms().isEmpty(), "VM removed from the node");
            Api.as(Api.READER).get("/api/v1/nodes/" + node.nodeId()).then().statusCode(200)
                    .body("allocated.memoryMiB", org.hamcrest.Matchers.equalTo(0))
                    .body("allocated.maxVms", org.hamcrest.Matchers.equalTo(0));
        }
    }

    @Test
    void lostNode_movesOrFailsSandboxes_andReturningNodeIsReconciledNotDuplicated() throws Exception {
        try (FakeNodeAgent lost = agent(unique("lost")); FakeNodeAgent spare = agent(unique("spare"))) {
            lost.register(Api.JOIN);
            String movable = create(unique("always"), "ALWAYS", lost, spare);
            String fragile = create(unique("never"), "NEVER", lost, spare);
            Api.eventually(WAIT, "both sandboxes run on the first node",
                    () -> is(movable, "RUNNING", lost.name()) && is(fragile, "RUNNING", lost.name()));
            spare.register(Api.JOIN);

            lost.pauseHeartbeats();

            Api.eventually(WAIT, "the node is marked UNHEALTHY", () -> "UNHEALTHY".equals(
                    Api.as(Api.READER).get("/api/v1/nodes/" + lost.nodeId()).then().extract().path("state")));
            Api.eventually(WAIT, "the ALWAYS sandbox runs on the spare node", () -> is(movable, "RUNNING", spare.name()));
            assertTrue(spare.vms().containsKey(movable));
            Api.eventually(WAIT, "the NEVER sandbox failed", () -> is(fragile, "FAILED", null));
            Api.as(Api.READER).get("/api/v1/sandboxes/" + movable + "/events").then()
                    .body("items.type", hasItem("Rescheduling"));

            String nodeIdBefore = lost.nodeId();
            lost.register(Api.JOIN); // the agent restarts and registers again under its name

            assertEquals(nodeIdBefore, lost.nodeId(), "a returning node keeps its identity");
            Api.eventually(WAIT, "the node is READY again", () -> "READY".equals(
                    Api.as(Api.READER).get("/api/v1/nodes/" + lost.nodeId()).then().extract().path("state")));
            Api.eventually(WAIT, "its stale VMs are deleted", () -> lost.vms().isEmpty());
            List<String> names = Api.as(Api.READER).queryParam("limit", 1000).get("/api/v1/nodes").then()
                    .extract().jsonPath().getList("items.name");
            assertEquals(1, names.stream().filter(lost.name()::equals).count(), "one node record per name");
            assertTrue(is(movable, "RUNNING", spare.name()), "the moved sandbox stays where it runs now");
        }
    }

    @Test
    void drain_movesSandboxToAnotherNode_andCordons() throws Exception {
        try (FakeNodeAgent drained = agent(unique("drain")); FakeNodeAgent other = agent(unique("other"))) {
            drained.register(Api.JOIN);
            String id = create(unique("sb"), "ON_FAILURE", drained, other);
            Api.eventually(WAIT, "the sandbox runs", () -> is(id, "RUNNING", drained.name()));
            other.register(Api.JOIN);

            Api.as(Api.ADMIN).post("/api/v1/nodes/" + drained.name() + "/drain").then().statusCode(200)
                    .body("cordoned", org.hamcrest.Matchers.equalTo(true));

            Api.eventually(WAIT, "the sandbox runs on the other node", () -> is(id, "RUNNING", other.name()));
            Api.eventually(WAIT, "the drained node's VM is removed", () -> drained.vms().isEmpty());
        }
    }
}
