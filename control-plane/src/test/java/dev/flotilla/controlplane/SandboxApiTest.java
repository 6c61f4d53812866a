package dev.flotilla.controlplane;

import dev.flotilla.contract.v1.NodeCapacity;
import dev.flotilla.contract.v1.Taint;
import dev.flotilla.contract.v1.TaintEffect;
import dev.flotilla.controlplane.testing.Api;
import dev.flotilla.controlplane.testing.FakeNodeAgent;
import io.quarkus.test.junit.QuarkusTest;
import io.restassured.path.json.JsonPath;
import org.junit.jupiter.api.Test;

import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.UUID;

import static org.hamcrest.Matchers.containsString;
import static org.hamcrest.Matchers.equalTo;
import static org.hamcrest.Matchers.hasItem;
import static org.hamcrest.Matchers.hasItems;
import static org.hamcrest.Matchers.notNullValue;
import static org.hamcrest.Matchers.nullValue;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;

@QuarkusTest
class SandboxApiTest {

    private static String unique(String prefix) {
        return prefix + "-" + UUID.randomUUID().toString().substring(0, 8);
    }

    private static Map<String, Object> spec(String name) {
        Map<String, Object> spec = new HashMap<>();
        spec.put("name", name);
        spec.put("image", "docker.io/library/alpine:3.20");
        spec.put("vcpus", 1);
        spec.put("memoryMiB", 128);
        return spec;
    }

    @Test
    void create_invalidFields_isProblemWithEveryFieldError() {
        Map<String, Object> spec = new HashMap<>();
        spec.put("name", "Not_A_DNS_Label");
        spec.put("vcpus", 0);
        spec.put("memoryMiB", 8);
        spec.put("labels", Map.of("bad key!", "v"));

        Api.as(Api.ADMIN).body(spec).post("/api/v1/sandboxes").then().statusCode(400)
                .contentType("application/problem+json")
                .body("title", equalTo("Bad Request"))
                .body("errors.field", hasItems("name", "image", "vcpus", "memoryMiB", "labels"))
                .body("errors.find { it.field == 'vcpus' }.message", containsString("greater than or equal to 1"))
                .body("errors.find { it.field == 'labels' }.message", containsString("bad key!"));
    }

    @Test
    void create_wrongJsonType_namesTheField() {
        Api.as(Api.ADMIN).body("{\"name\":\"x\",\"image\":\"a\",\"vcpus\":\"many\",\"memoryMiB\":128}")
                .post("/api/v1/sandboxes").then().statusCode(400).contentType("application/problem+json")
                .body("errors[0].field", equalTo("vcpus"));
    }

    @Test
    void create_malformedJson_isProblem() {
        Api.as(Api.ADMIN).body("{\"name\":").post("/api/v1/sandboxes").then().statusCode(400)
                .contentType("application/problem+json").body("errors[0].field", equalTo("body"));
    }

    @Test
    void create_invalidToleration_reportsNestedField() {
        Map<String, Object> spec = spec(unique("tol"));
        spec.put("tolerations", List.of(Map.of("key", "gpu", "operator", "Maybe")));
        Api.as(Api.ADMIN).body(spec).post("/api/v1/sandboxes").then().statusCode(400)
                .body("errors.field", hasItem("tolerations[0].operator"));
    }

    @Test
    void create_noNodeFits_isStoredPendingWithReason() {
        Map<String, Object> spec = spec(unique("nofit"));
        spec.put("nodeSelector", Map.of("flotilla.test/never", "matches"));
        String id = Api.as(Api.ADMIN).body(spec).post("/api/v1/sandboxes").then().statusCode(201)
                .body("observedState", equalTo("PENDING")).body("message", containsString("node selector mismatch"))
                .extract().path("id");

        Api.as(Api.READER).get("/api/v1/sandboxes/" + id).then().statusCode(200)
                .body("observedState", equalTo("PENDING")).body("node", nullValue());
        Api.as(Api.READER).get("/api/v1/sandboxes/" + id + "/events").then().statusCode(200)
                .body("items.type", hasItems("Created", "Unschedulable"));
    }

    @Test
    void create_duplicateName_is409() {
        String name = unique("dup");
        Api.as(Api.ADMIN).body(spec(name)).post("/api/v1/sandboxes").then().statusCode(201);
        Api.as(Api.ADMIN).body(spec(name)).post("/api/v1/sandboxes").then().statusCode(409)
                .contentType("application/problem+json").body("detail", containsString(name));
    }

    @Test
    void get_unknownSandbox_is404Problem() {
        Api.as(Api.READER).get("/api/v1/sandboxes/" + UUID.randomUUID()).then().statusCode(404)
                .contentType("application/problem+json").body("detail", containsString("does not exist"));
    }

    @Test
    void list_labelAndStateFilters_withPagination_returnEachMatchOnce() {
        String run = unique("run");
        for (int i = 0; i < 5; i++) {
            Map<String, Object> spec = spec(run + "-" + i);
            spec.put("labels", Map.of("run", run, "parity", i % 2 == 0 ? "even" : "odd"));
            spec.put("nodeSelector", Map.of("flotilla.test/never", "matches")); // stays PENDING
            Api.as(Api.ADMIN).body(spec).post("/api/v1/sandboxes").then().statusCode(201);
        }

        List<String> names = new ArrayList<>();
        String cursor = null;
        do {
            var request = Api.as(Api.READER).queryParam("label", "run=" + run).queryParam("label", "parity=even")
                    .queryParam("state", "PENDING").queryParam("limit", 2);
            if (cursor != null) {
                request.queryParam("cursor", cursor);
            }
            JsonPath page = request.get("/api/v1/sandboxes").then().statusCode(200).extract().jsonPath();
            names.addAll(page.getList("items.name"));
            cursor = page.getString("nextCursor");
        } while (cursor != null);

        assertEquals(List.of(run + "-0", run + "-2", run + "-4"), names);
        Api.as(Api.READER).queryParam("label", "run=" + run).queryParam("state", "RUNNING")
                .get("/api/v1/sandboxes").then().statusCode(200).body("items.size()", equalTo(0));
    }

    @Test
    void list_badQueryParameters_areProblems() {
        Api.as(Api.READER).queryParam("limit", 0).get("/api/v1/sandboxes").then().statusCode(400)
                .contentType("application/problem+json").body("errors[0].field", equalTo("limit"));
        Api.as(Api.READER).queryParam("label", "novalue").get("/api/v1/sandboxes").then().statusCode(400)
                .body("errors[0].field", equalTo("label"));
        Api.as(Api.READER).queryParam("cursor", "!!!").get("/api/v1/sandboxes").then().statusCode(400)
                .body("errors[0].field", equalTo("cursor"));
    }

    @Test
    void nodeRegistration_invalid_isProblemWithFields() {
        Api.as(Api.JOIN).body(Map.of("name", "UPPER", "agentEndpoint", "ftp://x",
                        "capacity", Map.of("vcpus", 0, "memoryMiB", 1, "maxVms", 1)))
                .post("/api/v1/nodes/register").then().statusCode(400).contentType("application/problem+json")
                .body("errors.field", hasItems("name", "agentEndpoint", "capacity.vcpus", "capacity.memoryMiB"));
    }

    @Test
    void stopAndDelete_unplacedSandbox_takeEffectAtOnce() {
        Map<String, Object> spec = spec(unique("unplaced"));
        spec.put("nodeSelector", Map.of("flotilla.test/never", "matches"));
        String id = Api.as(Api.ADMIN).body(spec).post("/api/v1/sandboxes").then().statusCode(201).extract().path("id");

        Api.as(Api.ADMIN).post("/api/v1/sandboxes/" + id + "/stop").then().statusCode(200)
                .body("desiredState", equalTo("STOPPED")).body("observedState", equalTo("STOPPED"));
        Api.as(Api.ADMIN).delete("/api/v1/sandboxes/" + id).then().statusCode(200);
        Api.as(Api.READER).get("/api/v1/sandboxes/" + id).then().statusCode(404);
    }

    @Test
    void create_withMatchingNode_isScheduledOnIt() throws Exception {
        String zone = unique("zone");
        try (FakeNodeAgent agent = new FakeNodeAgent(unique("api-node"), Api.baseUrl(), new NodeCapacity(2, 1024, 4),
                Map.of("zone", zone), List.of(new Taint("flotilla.test/dedicated", zone, TaintEffect.NO_SCHEDULE)))) {
            agent.register(Api.JOIN);
            Map<String, Object> spec = spec(unique("placed"));
            spec.put("nodeSelector", Map.of("zone", zone));
            spec.put("tolerations", List.of(Map.of("key", "flotilla.test/dedicated", "operator", "Exists")));

            var created = Api.as(Api.ADMIN).body(spec).post("/api/v1/sandboxes").then().statusCode(201)
                    .body("observedState", equalTo("SCHEDULED")).body("placedAt", notNullValue()).extract().jsonPath();

            assertNull(created.get("message"));
            assertEquals(agent.nodeId(), Api.as(Api.READER).get("/api/v1/nodes/" + created.getString("node"))
                    .then().statusCode(200).body("allocated.memoryMiB", equalTo(128)).extract().path("id"));
        }
    }
}
