package dev.flotilla.node.metrics;

import dev.flotilla.node.Api;
import dev.flotilla.node.TempStateDir;
import io.quarkus.test.common.QuarkusTestResource;
import io.quarkus.test.junit.QuarkusTest;
import io.restassured.RestAssured;
import org.junit.jupiter.api.Test;

import java.time.Duration;

import static dev.flotilla.node.Api.given;
import static org.hamcrest.Matchers.containsString;
import static org.hamcrest.Matchers.equalTo;
import static org.hamcrest.Matchers.hasItems;
import static org.hamcrest.Matchers.notNullValue;

@QuarkusTest
@QuarkusTestResource(value = TempStateDir.class, restrictToAnnotatedClass = true)
class MetricsAndHealthTest {

    @Test
    void metrics_afterABoot_exposeBootHistogramAndStateGauges() {
        String id = given().body("{\"name\":\"metered\"}").post("/api/v1/sandboxes").then().statusCode(201).extract().path("id");
        Api.awaitState("/api/v1/sandboxes/" + id, "RUNNING", Duration.ofSeconds(20));
        RestAssured.given().get("/q/metrics").then().statusCode(200)
                .body(containsString("flotilla_node_vm_boot_time_milliseconds_bucket"))
                .body(containsString("flotilla_node_vms{state=\"RUNNING\"}"))
                .body(containsString("flotilla_node_vm_resident_memory_bytes{stat=\"mean\"}"))
                .body(containsString("flotilla_node_device_serial_output_bytes_total"));
    }

    @Test
    void readiness_reportsKvmKindGuestArtifactsAndDisk() {
        RestAssured.given().get("/q/health/ready").then()
                .body("checks.name", hasItems("kvm", "guest-artifacts", "disk"))
                .body("checks.find { it.name == 'kvm' }.data.kind", notNullValue())
                .body("checks.find { it.name == 'disk' }.status", equalTo("UP"));
    }

    @Test
    void openapi_documentsBothSandboxApis() {
        RestAssured.given().get("/q/openapi?format=json").then().statusCode(200)
                .body(containsString("/api/v1/sandboxes/{ref}"))
                .body(containsString("/v1/sandboxes/{sandboxId}"));
    }
}
