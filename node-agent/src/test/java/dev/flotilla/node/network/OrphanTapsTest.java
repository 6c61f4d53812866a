package dev.flotilla.node.network;

import dev.flotilla.node.config.NodeConfig;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Set;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

/**
 * A restarted agent removes the taps its crashed predecessor left, and only those: two agents on one host (two
 * bridges, two pools) must not delete each other's taps. Real taps and bridges (needs root, as the agent does).
 */
class OrphanTapsTest {
    static final String OURS = "fltorph0";
    static final String THEIRS = "fltorph1";

    @BeforeEach
    void needsRoot() {
        assumeTrue("root".equals(System.getProperty("user.name")), "creating taps and bridges needs root (CAP_NET_ADMIN)");
    }

    @AfterEach
    void cleanUp() {
        for (String link : List.of("flt0adb0902", "flt0adb0903", "flt0adb0a02", "flt0adb0a03", OURS, THEIRS)) {
            HostCommand.run(List.of("ip", "link", "del", link), null);
        }
        HostCommand.run(List.of("nft", "delete", "table", "inet", "flotilla_" + OURS), null);
    }

    static NodeConfig.Network network(String bridge, String pool) {
        return new NodeConfig.Network() {
            public boolean enabled() { return true; }
            public String bridge() { return bridge; }
            public String pool() { return pool; }
            public int bridgePrefixLength() { return 22; }
            public boolean nat() { return false; }
            public boolean allowSandboxToSandbox() { return false; }
            public boolean allowNodeApi() { return false; }
        };
    }

    static void tap(String name, String bridge) {
        HostCommand.check(List.of("ip", "tuntap", "add", "dev", name, "mode", "tap"));
        if (bridge != null) {
            HostCommand.check(List.of("ip", "link", "set", "dev", name, "master", bridge));
        }
    }

    static boolean exists(String link) {
        return Files.exists(Path.of("/sys/class/net", link));
    }

    @Test
    void removeOrphanTaps_removesOursOnly_notAnotherAgentsOnAnotherBridge() {
        SandboxNetwork ours = new SandboxNetwork(network(OURS, "10.219.9.0/24"), 7070);
        ours.setUp();
        HostCommand.check(List.of("ip", "link", "add", THEIRS, "type", "bridge"));
        tap("flt0adb0902", OURS);   // 10.219.9.2: a port of our bridge
        tap("flt0adb0903", null);   // 10.219.9.3: ours, crashed before it was enslaved
        tap("flt0adb0a02", THEIRS); // 10.219.10.2: another agent's, on its bridge
        tap("flt0adb0a03", null);   // 10.219.10.3: another agent's, not enslaved yet

        List<String> removed = ours.removeOrphanTaps(Set.of());

        assertEquals(Set.of("flt0adb0902", "flt0adb0903"), Set.copyOf(removed));
        assertFalse(exists("flt0adb0902") || exists("flt0adb0903"), "our leftovers are gone");
        assertTrue(exists("flt0adb0a02") && exists("flt0adb0a03"), "the other agent's taps are untouched");
    }

    @Test
    void addressOf_invertsTapName() {
        assertEquals("10.219.9.2", SandboxNetwork.addressOf(SandboxNetwork.tapName("10.219.9.2")));
        assertEquals("255.0.128.1", SandboxNetwork.addressOf(SandboxNetwork.tapName("255.0.128.1")));
        assertEquals(null, SandboxNetwork.addressOf("fltzzzzzzzz"));
    }
}
