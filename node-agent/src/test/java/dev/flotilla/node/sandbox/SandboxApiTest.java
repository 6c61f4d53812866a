package dev.flotilla.node.sandbox;

import dev.flotilla.node.TempStateDir;
import io.quarkus.test.common.QuarkusTestResource;
import io.quarkus.test.junit.QuarkusTest;
import org.junit.jupiter.api.Test;

import java.time.Duration;

import static dev.flotilla.node.Api.awaitState;
import static dev.flotilla.node.Api.given;
import static org.hamcrest.Matchers.containsString;
import static org.hamcrest.Matchers.equalTo;
import static org.hamcrest.Matchers.greaterThanOrEqualTo;
import static org.hamcrest.Matchers.hasItem;
import static org.hamcrest.Matchers.not;
import static org.hamcrest.Matchers.notNullValue;
import static org.hamcrest.Matchers.startsWith;

/** The sandbox lifecycle through the node API, with real tiny-guest VMs on this host's KVM. */
@QuarkusTest
@QuarkusTestResource(value = TempStateDir.class, restrictToAnnotatedClass = true)
class SandboxApiTest {

    private static String create(String name) {
        return given().body("{\"name\":\"" + name + "\",\"labels\":{\"app\":\"web\"}}")
                .post("/api/v1/sandboxes").then().statusCode(201).extract().path("id");
    }

    @Test
    void create_tinyGuest_bootsToRunningWithBootTime() {
        String id = create("boots");
        awaitState("/api/v1/sandboxes/" + id, "RUNNING", Duration.ofSeconds(20))
                .body("guest", equalTo("tiny"))
                .body("memoryMiB", equalTo(16))
                .body("bootTimeMillis", greaterThanOrEqualTo(0))
                .body("residentMemoryBytes", notNullValue());
    }

    @Test
    void console_afterBoot_holdsTheGuestBanner() {
        String id = create("banner");
        awaitState("/api/v1/sandboxes/" + id, "RUNNING", Duration.ofSeconds(20));
        given().get("/api/v1/sandboxes/banner/console").then().statusCode(200)
                .body(containsString("flotilla tiny guest banner (" + id + ") is up"));
    }

    @Test
    void get_byName_answersTheSandbox() {
        String id = create("by-name");
        given().get("/api/v1/sandboxes/by-name").then().statusCode(200).body("id", equalTo(id));
    }

    @Test
    void list_withStateAndLabelFilters_answersMatchingSandboxes() {
        create("listed");
        awaitState("/api/v1/sandboxes/listed", "RUNNING", Duration.ofSeconds(20));
        given().queryParam("state", "RUNNING").queryParam("label", "app=web").get("/api/v1/sandboxes").then()
                .statusCode(200).body("sandboxes.name", hasItem("listed"));
        given().queryParam("label", "app=db").get("/api/v1/sandboxes").then()
                .statusCode(200).body("sandboxes.name", not(hasItem("listed")));
    }

    @Test
    void stop_runningSandbox_endsStoppedAndFreesCapacity() {
        String id = create("stopped");
        awaitState("/api/v1/sandboxes/" + id, "RUNNING", Duration.ofSeconds(20));
        int usedBefore = given().get("/api/v1/node").then().extract().path("used.vms");
        given().post("/api/v1/sandboxes/" + id + "/stop").then().statusCode(200)
                .body("state", equalTo("STOPPED")).body("message", equalTo("stopped on request"));
        given().get("/api/v1/node").then().body("used.vms", equalTo(usedBefore - 1));
    }

    @Test
    void stop_twice_isIdempotent() {
        String id = create("stop-twice");
        given().post("/api/v1/sandboxes/" + id + "/stop").then().statusCode(200);
        given().post("/api/v1/sandboxes/" + id + "/stop").then().statusCode(200).body("state", equalTo("STOPPED"));
    }

    @Test
    void delete_sandbox_removesIt() {
        String id = create("deleted");
        given().delete("/api/v1/sandboxes/" + id).then().statusCode(204);
        given().get("/api/v1/sandboxes/" + id).then().statusCode(404)
                .contentType("application/problem+json").body("detail", startsWith("sandbox " + id));
    }

    @Test
    void node_info_reportsKvmCapacityAndJvm() {
        given().get("/api/v1/node").then().statusCode(200)
                .body("kvm.kind", notNullValue())
                .body("capacity.vcpus", greaterThanOrEqualTo(1))
                .body("capacity.vms", equalTo(64))
                .body("containers.available", equalTo(true))
                .body("controlPlane.state", equalTo("STANDALONE"))
                .body("jvm.threads", greaterThanOrEqualTo(1));
    }
}
