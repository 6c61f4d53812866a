package dev.flotilla.node.contract;

import dev.flotilla.contract.v1.NodeAgentPaths;
import dev.flotilla.node.TempStateDir;
import io.quarkus.test.common.QuarkusTestResource;
import io.quarkus.test.junit.QuarkusTest;
import org.junit.jupiter.api.Test;

import java.time.Duration;

import static dev.flotilla.node.Api.awaitState;
import static dev.flotilla.node.Api.given;
import static org.hamcrest.Matchers.containsString;
import static org.hamcrest.Matchers.equalTo;
import static org.hamcrest.Matchers.hasItem;
import static org.hamcrest.Matchers.not;
import static org.hamcrest.Matchers.notNullValue;

/** The contract v1 sandbox API as the control plane calls it: idempotent launch, stop, delete, status. */
@QuarkusTest
@QuarkusTestResource(value = TempStateDir.class, restrictToAnnotatedClass = true)
class ContractSandboxApiTest {

    private static String launch(String id, String name, long generation) {
        return "{\"sandboxId\":\"" + id + "\",\"name\":\"" + name + "\",\"image\":\"flotilla/tiny\",\"vcpus\":1,"
                + "\"memoryMiB\":16,\"generation\":" + generation + "}";
    }

    @Test
    void put_newSandbox_createsAndRuns() {
        given().body(launch("c-1", "c-one", 1)).put(NodeAgentPaths.sandbox("c-1")).then().statusCode(201)
                .header("Flotilla-Contract-Version", "v1").body("sandboxId", equalTo("c-1")).body("generation", equalTo(1));
        awaitState(NodeAgentPaths.sandbox("c-1"), "RUNNING", Duration.ofSeconds(20)).body("bootTimeMillis", notNullValue());
    }

    @Test
    void put_existingSandbox_answers200WithoutRecreating() {
        given().body(launch("c-2", "c-two", 1)).put(NodeAgentPaths.sandbox("c-2")).then().statusCode(201);
        given().body(launch("c-2", "c-two", 1)).put(NodeAgentPaths.sandbox("c-2")).then().statusCode(200)
                .body("sandboxId", equalTo("c-2"));
    }

    @Test
    void put_higherGeneration_recreatesTheVm() {
        given().body(launch("c-3", "c-three", 1)).put(NodeAgentPaths.sandbox("c-3")).then().statusCode(201);
        given().body(launch("c-3", "c-three", 2)).put(NodeAgentPaths.sandbox("c-3")).then().statusCode(201)
                .body("generation", equalTo(2));
    }

    @Test
    void stop_thenGet_answersStopped() {
        given().body(launch("c-4", "c-four", 1)).put(NodeAgentPaths.sandbox("c-4")).then().statusCode(201);
        given().post(NodeAgentPaths.stop("c-4")).then().statusCode(200).body("state", equalTo("STOPPED"));
        given().get(NodeAgentPaths.sandbox("c-4")).then().statusCode(200).body("state", equalTo("STOPPED"));
    }

    @Test
    void stop_unknownSandbox_isNotFound() {
        given().post(NodeAgentPaths.stop("c-unknown")).then().statusCode(404).contentType("application/problem+json");
    }

    @Test
    void delete_isIdempotent() {
        given().body(launch("c-5", "c-five", 1)).put(NodeAgentPaths.sandbox("c-5")).then().statusCode(201);
        given().delete(NodeAgentPaths.sandbox("c-5")).then().statusCode(204);
        given().delete(NodeAgentPaths.sandbox("c-5")).then().statusCode(204);
        given().get(NodeAgentPaths.SANDBOXES).then().statusCode(200).body("sandboxes.sandboxId", not(hasItem("c-5")));
    }

    @Test
    void put_withMismatchedBodyId_isRejected() {
        given().body(launch("c-other", "c-x", 1)).put(NodeAgentPaths.sandbox("c-6")).then().statusCode(400)
                .body("errors.field", hasItem("sandboxId"));
    }

    @Test
    void put_withUnsafeId_isRejected() {
        given().body("{\"name\":\"x\",\"image\":\"flotilla/tiny\",\"vcpus\":1,\"memoryMiB\":16}")
                .put(NodeAgentPaths.sandbox(".hidden")).then().statusCode(400).body("errors.field", hasItem("sandboxId"));
    }

    @Test
    void put_withoutImage_isRejected() {
        given().body("{\"sandboxId\":\"c-7\",\"name\":\"c-seven\",\"vcpus\":1,\"memoryMiB\":16}")
                .put(NodeAgentPaths.sandbox("c-7")).then().statusCode(400).body("errors.field", hasItem("image"));
    }

    @Test
    void put_withZeroResources_isRejected() {
        given().body("{\"sandboxId\":\"c-8\",\"name\":\"c-eight\",\"image\":\"flotilla/tiny\",\"vcpus\":0,\"memoryMiB\":0}")
                .put(NodeAgentPaths.sandbox("c-8")).then().statusCode(400)
                .body("errors.field", hasItem("vcpus")).body("errors.field", hasItem("memoryMiB"));
    }

    @Test
    void put_withOtherContractVersion_isRejected() {
        given().header("Flotilla-Contract-Version", "v2").body(launch("c-9", "c-nine", 1))
                .put(NodeAgentPaths.sandbox("c-9")).then().statusCode(400).body("detail", containsString("speaks contract v1"));
    }
}
