package dev.flotilla.node.contract;

import dev.flotilla.contract.v1.Heartbeat;
import dev.flotilla.contract.v1.KvmKind;
import dev.flotilla.contract.v1.NodeRegistration;
import dev.flotilla.contract.v1.VmState;
import dev.flotilla.node.Api;
import io.quarkus.test.common.QuarkusTestResource;
import io.quarkus.test.junit.QuarkusTest;
import org.junit.jupiter.api.Test;

import java.time.Duration;
import java.util.function.BooleanSupplier;

import static dev.flotilla.node.Api.given;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;

/** Registration and heartbeats against a real HTTP server speaking the control plane's side of contract v1. */
@QuarkusTest
@QuarkusTestResource(value = FakeControlPlane.class, restrictToAnnotatedClass = true)
class ControlPlaneLinkTest {

    private static void await(String what, BooleanSupplier condition) throws InterruptedException {
        long deadline = System.nanoTime() + Duration.ofSeconds(20).toNanos();
        while (!condition.getAsBoolean()) {
            if (System.nanoTime() > deadline) {
                fail("timed out waiting until " + what + "; registrations " + FakeControlPlane.REGISTRATIONS.size()
                        + ", heartbeats " + FakeControlPlane.HEARTBEATS.size());
            }
            Thread.sleep(50);
        }
    }

    private static boolean lastHeartbeatShows(String sandboxId, VmState state) {
        if (FakeControlPlane.HEARTBEATS.isEmpty()) {
            return false;
        }
        Heartbeat last = FakeControlPlane.HEARTBEATS.getLast();
        return last.vms().stream().anyMatch(v -> v.sandboxId().equals(sandboxId) && v.state() == state);
    }

    @Test
    void register_withJoinToken_announcesNodeAndAgentToken() throws InterruptedException {
        await("the agent registered", () -> !FakeControlPlane.REGISTRATIONS.isEmpty());
        NodeRegistration r = FakeControlPlane.REGISTRATIONS.getFirst();
        assertEquals("test-node", r.name());
        assertEquals(Api.TOKEN, r.agentToken());
        assertEquals("http://127.0.0.1:7070", r.agentEndpoint());
        assertNotEquals(KvmKind.UNKNOWN, r.kvmKind());
        assertTrue(r.capacity().vcpus() >= 1 && r.capacity().memoryMiB() > 0, FakeControlPlane.text(r));
    }

    @Test
    void heartbeat_afterLaunch_carriesTheVmAndUsage() throws InterruptedException {
        String id = given().body("{\"name\":\"beating\"}").post("/api/v1/sandboxes").then().statusCode(201).extract().path("id");
        await("a heartbeat lists " + id + " RUNNING", () -> lastHeartbeatShows(id, VmState.RUNNING));
        Heartbeat last = FakeControlPlane.HEARTBEATS.getLast();
        assertTrue(last.usage().vmCount() >= 1 && last.usage().memoryMiBUsed() >= 16, FakeControlPlane.text(last));
    }

    @Test
    void heartbeat_refusedToken_registersAgainUnderTheSameName() throws InterruptedException {
        await("the agent registered", () -> !FakeControlPlane.REGISTRATIONS.isEmpty());
        int before = FakeControlPlane.REGISTRATIONS.size();
        FakeControlPlane.forgetNode();
        await("the agent registered again", () -> FakeControlPlane.REGISTRATIONS.size() > before);
        assertEquals("test-node", FakeControlPlane.REGISTRATIONS.getLast().name());
    }

    @Test
    void controlPlaneDown_vmsKeepRunning_andHeartbeatsResumeOnReturn() throws Exception {
        String id = given().body("{\"name\":\"survivor\"}").post("/api/v1/sandboxes").then().statusCode(201).extract().path("id");
        await("a heartbeat lists " + id, () -> lastHeartbeatShows(id, VmState.RUNNING));
        FakeControlPlane.goDown();
        try {
            await("the agent reports the control plane unreachable",
                    () -> "UNREACHABLE".equals(given().get("/api/v1/node").then().extract().path("controlPlane.state")));
            given().get("/api/v1/sandboxes/" + id).then().statusCode(200).body("state", org.hamcrest.Matchers.equalTo("RUNNING"));
            FakeControlPlane.HEARTBEATS.clear();
        } finally {
            FakeControlPlane.comeBack();
        }
        await("heartbeats resume with " + id, () -> lastHeartbeatShows(id, VmState.RUNNING));
        await("the agent reports the control plane connected",
                () -> "CONNECTED".equals(given().get("/api/v1/node").then().extract().path("controlPlane.state")));
    }
}
