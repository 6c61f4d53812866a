package dev.flotilla.controlplane;

import dev.flotilla.contract.v1.NodeCapacity;
import dev.flotilla.controlplane.testing.Api;
import dev.flotilla.controlplane.testing.FakeNodeAgent;
import io.quarkus.test.junit.QuarkusTest;
import io.restassured.RestAssured;
import org.junit.jupiter.api.Test;

import java.util.List;
import java.util.Map;
import java.util.UUID;

import static org.hamcrest.Matchers.containsString;
import static org.hamcrest.Matchers.equalTo;

@QuarkusTest
class AuthScopesTest {

    @Test
    void sandboxList_withoutToken_is401Problem() {
        RestAssured.given().get("/api/v1/sandboxes").then().statusCode(401)
                .contentType("application/problem+json").body("status", equalTo(401))
                .body("detail", containsString("Bearer"));
    }

    @Test
    void sandboxList_unknownToken_is401() {
        Api.as("not-a-token").get("/api/v1/sandboxes").then().statusCode(401)
                .body("detail", containsString("not known"));
    }

    @Test
    void readOnlyToken_canRead_butNotCreate() {
        Api.as(Api.READER).get("/api/v1/sandboxes").then().statusCode(200);
        Api.as(Api.READER).get("/api/v1/fleet").then().statusCode(200);
        Api.as(Api.READER).body(Map.of("name", "ro-" + UUID.randomUUID().toString().substring(0, 8), "image", "alpine",
                        "vcpus", 1, "memoryMiB", 128))
                .post("/api/v1/sandboxes").then().statusCode(403).body("detail", containsString("WRITE"));
    }

    @Test
    void readOnlyToken_cannotCordon() {
        Api.as(Api.READER).post("/api/v1/nodes/any/cordon").then().statusCode(403);
    }

    @Test
    void joinToken_cannotReadSandboxes() {
        Api.as(Api.JOIN).get("/api/v1/sandboxes").then().statusCode(403);
    }

    @Test
    void adminToken_cannotRegisterNodes() {
        Api.as(Api.ADMIN).body(Map.of("name", "x", "capacity", Map.of("vcpus", 1, "memoryMiB", 128, "maxVms", 1)))
                .post("/api/v1/nodes/register").then().statusCode(403);
    }

    @Test
    void nodeToken_cannotUseUserApi_norHeartbeatForAnotherNode() throws Exception {
        try (FakeNodeAgent first = agent("auth-a"); FakeNodeAgent second = agent("auth-b")) {
            first.register(Api.JOIN);
            second.register(Api.JOIN);

            Api.as(first.nodeToken()).get("/api/v1/sandboxes").then().statusCode(403);
            Api.as(first.nodeToken()).body(Map.of("vms", List.of()))
                    .post("/api/v1/nodes/" + second.nodeId() + "/heartbeat").then().statusCode(403)
                    .body("detail", containsString("its own node"));
            Api.as(first.nodeToken()).body(Map.of("vms", List.of()))
                    .post("/api/v1/nodes/" + first.nodeId() + "/heartbeat").then().statusCode(200)
                    .body("nodeState", equalTo("READY"));
        }
    }

    @Test
    void reRegistration_invalidatesOldNodeToken() throws Exception {
        try (FakeNodeAgent agent = agent("auth-rereg")) {
            agent.register(Api.JOIN);
            String oldToken = agent.nodeToken();
            agent.register(Api.JOIN);

            Api.as(oldToken).body(Map.of("vms", List.of()))
                    .post("/api/v1/nodes/" + agent.nodeId() + "/heartbeat").then().statusCode(401);
        }
    }

    private static FakeNodeAgent agent(String name) throws Exception {
        return FakeNodeAgent.isolated(name + "-" + UUID.randomUUID().toString().substring(0, 6), Api.baseUrl(),
                new NodeCapacity(2, 1024, 4), Map.of());
    }
}
