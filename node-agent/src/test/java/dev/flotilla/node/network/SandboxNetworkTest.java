package dev.flotilla.node.network;

import dev.flotilla.node.Api;
import io.quarkus.test.common.QuarkusTestResource;
import io.quarkus.test.junit.QuarkusTest;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;

import static dev.flotilla.node.Api.given;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

/** Real taps on a real bridge (needs root, as the agent does): created, isolated, removed. */
@QuarkusTest
@QuarkusTestResource(value = NetworkTestResource.class, restrictToAnnotatedClass = true)
class SandboxNetworkTest {

    @BeforeEach
    void needsRoot() {
        assumeTrue("root".equals(System.getProperty("user.name")), "creating taps and bridges needs root (CAP_NET_ADMIN)");
    }

    private static String create(String name) {
        String id = given().body("{\"name\":\"" + name + "\"}").post("/api/v1/sandboxes").then().statusCode(201).extract().path("id");
        Api.awaitState("/api/v1/sandboxes/" + id, "RUNNING", Duration.ofSeconds(20));
        return id;
    }

    private static String tapOf(String id) {
        return given().get("/api/v1/sandboxes/" + id).then().extract().path("network.tap");
    }

    @Test
    void create_withNetworking_putsAnIsolatedTapOnTheBridge() throws IOException {
        String id = create("net-a");
        String tap = tapOf(id);
        Path dev = Path.of("/sys/class/net", tap);
        assertTrue(Files.exists(dev), "tap " + tap + " exists");
        assertEquals(NetworkTestResource.BRIDGE, Files.readSymbolicLink(dev.resolve("master")).getFileName().toString());
        assertEquals("1", Files.readString(dev.resolve("brport/isolated")).strip(), "bridge port isolated");
        String address = given().get("/api/v1/sandboxes/" + id).then().extract().path("network.address");
        assertTrue(address.startsWith("10.219.0."), address);
    }

    @Test
    void create_twoSandboxes_getDistinctAddressesAndTaps() {
        String a = create("net-b");
        String b = create("net-c");
        assertFalse(tapOf(a).equals(tapOf(b)));
    }

    @Test
    void bridge_hasGatewayAddressAndNodeApiDropRule() {
        create("net-d");
        String addr = HostCommand.check(List.of("ip", "-4", "addr", "show", "dev", NetworkTestResource.BRIDGE));
        assertTrue(addr.contains("10.219.0.1/24"), addr);
        String rules = HostCommand.check(List.of("nft", "list", "table", "inet", "flotilla_" + NetworkTestResource.BRIDGE));
        assertTrue(rules.contains("iifname \"" + NetworkTestResource.BRIDGE + "\" tcp dport") && rules.contains("drop"), rules);
    }

    @Test
    void stop_removesTheTapAndFreesTheAddress() {
        String id = create("net-e");
        String tap = tapOf(id);
        given().post("/api/v1/sandboxes/" + id + "/stop").then().statusCode(200);
        assertFalse(Files.exists(Path.of("/sys/class/net", tap)), "tap " + tap + " removed");
        given().get("/api/v1/sandboxes/" + id).then().body("network", org.hamcrest.Matchers.nullValue());
    }
}
