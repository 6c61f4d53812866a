package dev.flotilla.node.sandbox;

import dev.flotilla.node.TempStateDir;
import io.quarkus.test.common.QuarkusTestResource;
import io.quarkus.test.junit.QuarkusTest;
import io.restassured.RestAssured;
import io.restassured.response.ValidatableResponse;
import org.junit.jupiter.api.Test;

import static dev.flotilla.node.Api.given;
import static org.hamcrest.Matchers.containsString;
import static org.hamcrest.Matchers.equalTo;
import static org.hamcrest.Matchers.hasItem;

/** Every refusal of the node API: status, problem+json shape and the field it names. */
@QuarkusTest
@QuarkusTestResource(value = TempStateDir.class, restrictToAnnotatedClass = true)
class SandboxValidationTest {

    private static ValidatableResponse post(String body) {
        return given().body(body).post("/api/v1/sandboxes").then();
    }

    private static void rejects(String body, String field, String messagePart) {
        post(body).statusCode(400).contentType("application/problem+json")
                .body("status", equalTo(400)).body("title", equalTo("Bad Request"))
                .body("errors.field", hasItem(field))
                .body("detail", containsString(messagePart));
    }

    @Test
    void create_withoutName_isRejected() {
        rejects("{}", "name", "name is required");
    }

    @Test
    void create_withUpperCaseName_isRejected() {
        rejects("{\"name\":\"Web_1\"}", "name", "DNS label");
    }

    @Test
    void create_withUnknownGuest_isRejected() {
        rejects("{\"name\":\"g\",\"guest\":\"windows\"}", "guest", "must be tiny or linux");
    }

    @Test
    void create_withImageOnTinyGuest_isRejected() {
        rejects("{\"name\":\"g\",\"guest\":\"tiny\",\"image\":\"busybox\"}", "image", "needs guest linux");
    }

    @Test
    void create_withBlankImage_isRejected() {
        rejects("{\"name\":\"g\",\"image\":\" \"}", "image", "must not be blank");
    }

    @Test
    void create_withCommandButNoImage_isRejected() {
        rejects("{\"name\":\"g\",\"command\":[\"sh\"]}", "command", "needs an image");
    }

    @Test
    void create_withNulInCommand_isRejected() {
        rejects("{\"name\":\"g\",\"image\":\"busybox\",\"command\":[\"a\\u0000b\"]}", "command[0]", "NUL");
    }

    @Test
    void create_withZeroVcpus_isRejected() {
        rejects("{\"name\":\"g\",\"vcpus\":0}", "vcpus", "must be 1 to 32, not 0");
    }

    @Test
    void create_withTooManyVcpus_isRejected() {
        rejects("{\"name\":\"g\",\"vcpus\":33}", "vcpus", "not 33");
    }

    @Test
    void create_withTooLittleMemory_isRejected() {
        rejects("{\"name\":\"g\",\"memoryMiB\":8}", "memoryMiB", "must be 16 to");
    }

    @Test
    void create_withInvalidLabelKey_isRejected() {
        rejects("{\"name\":\"g\",\"labels\":{\"-bad\":\"x\"}}", "labels.-bad", "not a valid label key");
    }

    @Test
    void create_withInvalidLabelValue_isRejected() {
        rejects("{\"name\":\"g\",\"labels\":{\"app\":\"has space\"}}", "labels.app", "invalid value");
    }

    @Test
    void create_withNetworkWhenDisabled_isRejected() {
        rejects("{\"name\":\"g\",\"network\":true}", "network", "networking is disabled");
    }

    @Test
    void create_withKernelArgsOnTinyGuest_isRejected() {
        rejects("{\"name\":\"g\",\"kernelArgs\":\"quiet\"}", "kernelArgs", "only applies to guest linux");
    }

    @Test
    void create_withWrongFieldType_namesTheField() {
        rejects("{\"name\":\"g\",\"vcpus\":\"two\"}", "vcpus", "whole number");
    }

    @Test
    void create_withSeveralProblems_reportsEveryOne() {
        post("{\"name\":\"\",\"vcpus\":0,\"memoryMiB\":1}").statusCode(400)
                .body("errors.size()", equalTo(3));
    }

    @Test
    void create_withMalformedJson_isRejected() {
        post("{\"name\":").statusCode(400).contentType("application/problem+json")
                .body("detail", containsString("not valid JSON"));
    }

    @Test
    void create_withoutBody_isRejected() {
        given().post("/api/v1/sandboxes").then().statusCode(400).body("errors.field", hasItem("body"));
    }

    @Test
    void create_withTakenName_conflicts() {
        post("{\"name\":\"taken\"}").statusCode(201);
        post("{\"name\":\"taken\"}").statusCode(409).contentType("application/problem+json")
                .body("detail", containsString("named taken already exists"));
    }

    @Test
    void create_largerThanTheNode_isUnprocessable() {
        post("{\"name\":\"huge\",\"memoryMiB\":1048576}").statusCode(422)
                .body("detail", containsString("more than this node offers in total"));
    }

    @Test
    void create_whenCpusAreTaken_conflicts() {
        // 2 CPUs × overcommit 8 = 16 vCPUs in tests: two 8-vCPU sandboxes fill the node (if no other test holds any).
        int free = given().get("/api/v1/node").then().extract().path("capacity.vcpus");
        int used = given().get("/api/v1/node").then().extract().path("used.vcpus");
        int room = free - used;
        while (room > 0) {
            int n = Math.min(room, 32);
            post("{\"name\":\"fill-" + room + "\",\"vcpus\":" + n + "}").statusCode(201);
            room -= n;
        }
        post("{\"name\":\"one-more\"}").statusCode(409).body("detail", containsString("vCPUs"));
        given().get("/api/v1/sandboxes").then().extract().jsonPath().getList("sandboxes.name", String.class).stream()
                .filter(n -> n.startsWith("fill-")).forEach(n -> given().delete("/api/v1/sandboxes/" + n).then().statusCode(204));
    }

    @Test
    void create_linuxGuestWithoutKernel_isUnprocessable() {
        post("{\"name\":\"lin\",\"guest\":\"linux\"}").statusCode(422).body("detail", containsString("Linux guest"));
    }

    @Test
    void create_withUnreachableImage_isUnprocessable() {
        // PVM host: the Linux guest is refused before the image is looked at; hardware host: the pull fails
        // (nothing listens on port 1). Both are 422 with the reason.
        post("{\"name\":\"img\",\"image\":\"127.0.0.1:1/nothing:latest\"}").statusCode(422)
                .contentType("application/problem+json");
    }

    @Test
    void list_withUnknownState_isRejected() {
        given().queryParam("state", "SLEEPING").get("/api/v1/sandboxes").then().statusCode(400)
                .body("errors.field", hasItem("state"));
    }

    @Test
    void list_withLabelWithoutValue_isRejected() {
        given().queryParam("label", "app").get("/api/v1/sandboxes").then().statusCode(400)
                .body("errors.field", hasItem("label"));
    }

    @Test
    void get_unknownSandbox_isNotFound() {
        given().get("/api/v1/sandboxes/nope").then().statusCode(404).contentType("application/problem+json")
                .body("detail", equalTo("sandbox nope does not exist"));
    }

    @Test
    void delete_unknownSandbox_isNotFound() {
        given().delete("/api/v1/sandboxes/nope").then().statusCode(404);
    }

    @Test
    void request_withoutToken_isUnauthorized() {
        RestAssured.given().get("/api/v1/sandboxes").then().statusCode(401).contentType("application/problem+json")
                .header("WWW-Authenticate", "Bearer").body("detail", containsString("needs a bearer token"));
    }

    @Test
    void request_withWrongToken_isUnauthorized() {
        RestAssured.given().header("Authorization", "Bearer wrong").get("/api/v1/node").then().statusCode(401)
                .body("detail", containsString("not valid"));
    }

    @Test
    void containers_ofSandboxWithoutImage_areConflict() {
        post("{\"name\":\"holder\"}").statusCode(201);
        given().contentType("application/json").body("{\"id\":\"c1\"}").post("/api/v1/sandboxes/holder/containers").then().statusCode(409)
                .contentType("application/problem+json").body("detail", containsString("created without an image"));
        given().get("/api/v1/sandboxes/holder/containers/c1/logs").then().statusCode(409);
        given().contentType("application/json").body("{\"id\":\"e\",\"command\":[\"true\"]}")
                .post("/api/v1/sandboxes/holder/containers/c1/exec").then().statusCode(409);
    }

    @Test
    void containers_ofUnknownSandbox_areNotFound() {
        given().get("/api/v1/sandboxes/nope/containers").then().statusCode(404);
    }

    @Test
    void unknownPath_isProblemNotFound() {
        given().get("/api/v1/nothing-here").then().statusCode(404).contentType("application/problem+json");
    }
}
