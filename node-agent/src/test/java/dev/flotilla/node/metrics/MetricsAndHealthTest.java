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
import static org.junit.jupiter.api.Assertions.assertTrue;

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
    void exitMetrics_afterATinyGuestBooted_countItsPortIoExits() {
        String id = given().body("{\"name\":\"exits-counted\"}").post("/api/v1/sandboxes").then().statusCode(201).extract().path("id");
        Api.awaitState("/api/v1/sandboxes/" + id, "RUNNING", Duration.ofSeconds(20));
        String metrics = scrape();
        // The tiny guest writes its banner to the serial port: one port I/O exit per byte at least.
        assertTrue(metricValue(metrics, "flotilla_vm_exits_total{reason=\"io\"}") > 0, metrics);
        assertTrue(metrics.contains("flotilla_vm_exits_total{reason=\"mmio\"}"), metrics);
        assertTrue(metrics.contains("flotilla_node_device_block_bytes_total{direction=\"read\"}"), metrics);
        assertTrue(metrics.contains("flotilla_node_device_net_bytes_total{direction=\"tx\"}"), metrics);
    }

    @Test
    void exitMetrics_afterTheVmIsDeleted_doNotGoDown() throws InterruptedException {
        String id = given().body("{\"name\":\"exits-kept\"}").post("/api/v1/sandboxes").then().statusCode(201).extract().path("id");
        Api.awaitState("/api/v1/sandboxes/" + id, "RUNNING", Duration.ofSeconds(20));
        double before = metricValue(scrape(), "flotilla_vm_exits_total{reason=\"io\"}");
        given().delete("/api/v1/sandboxes/" + id).then().statusCode(204);
        Thread.sleep(600); // past the metrics snapshot's 500 ms reuse
        double after = metricValue(scrape(), "flotilla_vm_exits_total{reason=\"io\"}");
        assertTrue(before > 0, "no I/O exits counted while the VM ran");
        assertTrue(after >= before, "the exit counter went down from " + before + " to " + after + " when the VM was deleted");
    }

    private static String scrape() {
        return RestAssured.given().get("/q/metrics").then().statusCode(200).extract().asString();
    }

    /** The value of the series whose name and labels are exactly {@code series}. */
    private static double metricValue(String metrics, String series) {
        for (String line : metrics.split("\n")) {
            if (line.startsWith(series + " ")) {
                return Double.parseDouble(line.substring(series.length() + 1).trim());
            }
        }
        throw new AssertionError("no series " + series + " in:\n" + metrics);
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
