package dev.flotilla.controlplane;

import dev.flotilla.contract.v1.NodeCapacity;
import dev.flotilla.controlplane.testing.Api;
import dev.flotilla.controlplane.testing.FakeNodeAgent;
import io.quarkus.test.junit.QuarkusTest;
import io.restassured.RestAssured;
import org.junit.jupiter.api.Test;

import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.UUID;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

import static org.hamcrest.Matchers.equalTo;
import static org.hamcrest.Matchers.hasItems;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** Health checks, the OpenAPI document, and fleet metrics aggregated from heartbeats. */
@QuarkusTest
class ObservabilityTest {

    @Test
    void readiness_includesDatabaseAndPlacement() {
        RestAssured.get("/q/health/ready").then().statusCode(200).body("status", equalTo("UP"))
                .body("checks.name", hasItems("placement"));
        RestAssured.get("/q/health/live").then().statusCode(200).body("checks.name", hasItems("reconciler"));
    }

    @Test
    void openApi_describesSandboxAndNodeEndpoints() {
        String document = RestAssured.given().queryParam("format", "json").get("/q/openapi").then().statusCode(200)
                .extract().asString();
        for (String path : List.of("/api/v1/sandboxes", "/api/v1/sandboxes/{ref}/events", "/api/v1/nodes/register",
                "/api/v1/nodes/{nodeId}/heartbeat", "/api/v1/nodes/{ref}/drain", "/api/v1/fleet")) {
            assertTrue(document.contains("\"" + path + "\""), "OpenAPI document lacks " + path);
        }
    }

    @Test
    void metrics_aggregateBootTimesAndVmsFromHeartbeats() throws Exception {
        String name = "metrics-" + UUID.randomUUID().toString().substring(0, 8);
        try (FakeNodeAgent node = FakeNodeAgent.isolated(name, Api.baseUrl(), new NodeCapacity(8, 8192, 10), Map.of())) {
            node.register(Api.JOIN);
            for (int i = 0; i < 3; i++) {
                Api.as(Api.ADMIN).body(Map.of("name", name + "-" + i, "image", "alpine", "vcpus", 1, "memoryMiB", 512,
                        "tolerations", List.of(FakeNodeAgent.toleration(name)))).post("/api/v1/sandboxes").then().statusCode(201);
            }
            Api.eventually(Duration.ofSeconds(20), "the node reports three VMs", () -> node.vms().size() == 3);
            node.heartbeat();

            Api.eventually(Duration.ofSeconds(10), "boot times reach the metrics", () ->
                    value(RestAssured.get("/q/metrics").asString(), "flotilla_vm_boot_time_milliseconds_count") >= 3);
            String metrics = RestAssured.get("/q/metrics").then().statusCode(200).extract().asString();
            assertTrue(value(metrics, "flotilla_fleet_vms_per_node{stat=\"max\"}") >= 3, metrics);
            assertTrue(value(metrics, "flotilla_fleet_memory_per_vm_mib{stat=\"max\"}") >= 512, metrics);
            assertTrue(metrics.contains("flotilla_vm_boot_time_milliseconds{quantile=\"0.99\"}"), "boot-time p99 exported");
            assertTrue(metrics.contains("flotilla_placement_latency_seconds"), "placement latency exported");
        }
    }

    @Test
    void fleetSummary_countsNodesAndSandboxes() {
        Api.as(Api.READER).get("/api/v1/fleet").then().statusCode(200)
                .body("scheduler.filters", hasItems("capacity", "node-selector", "taints", "health", "cordon"))
                .body("capacity.vcpus", org.hamcrest.Matchers.greaterThanOrEqualTo(0));
    }

    /** The value of the first sample whose name and labels start with {@code series}. */
    private static double value(String metrics, String series) {
        Matcher matcher = Pattern.compile("^" + Pattern.quote(series) + "\\S* ([-0-9.eE+NaN]+)$", Pattern.MULTILINE).matcher(metrics);
        return matcher.find() ? Double.parseDouble(matcher.group(1)) : -1;
    }
}
