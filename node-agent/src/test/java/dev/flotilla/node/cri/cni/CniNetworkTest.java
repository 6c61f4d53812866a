package dev.flotilla.node.cri.cni;

import dev.flotilla.node.network.HostCommand;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.UUID;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

/**
 * Debian's CNI plugins (bridge + host-local) run for real: the pod's namespace gets eth0 with an address the host
 * reaches over the plugin's bridge, and DEL gives everything back.
 */
class CniNetworkTest {
    private static final List<Path> BIN = List.of(Path.of("/usr/lib/cni"), Path.of("/opt/cni/bin"));
    private String bridge;
    private Path conf;
    private Path ipam;

    @BeforeEach
    void configure(@TempDir Path dir) throws Exception {
        assumeTrue(Files.isExecutable(Path.of("/usr/lib/cni/bridge")), "needs Debian's containernetworking-plugins");
        assumeTrue("0".equals(String.valueOf(Files.getAttribute(Path.of("/proc/self"), "unix:uid"))), "needs root");
        bridge = "fltcni" + UUID.randomUUID().toString().substring(0, 6);
        conf = Files.createDirectories(dir.resolve("net.d"));
        ipam = dir.resolve("ipam");
        Files.writeString(conf.resolve("10-test.conflist"), """
                {"cniVersion": "1.0.0", "name": "flotilla-test", "plugins": [
                  {"type": "bridge", "bridge": "%s", "isGateway": true, "ipMasq": false,
                   "ipam": {"type": "host-local", "ranges": [[{"subnet": "10.251.7.0/24"}]], "dataDir": "%s"}},
                  {"type": "tuning", "sysctl": {"net.ipv4.conf.eth0.accept_redirects": "0"}}
                ]}""".formatted(bridge, ipam));
        Files.writeString(conf.resolve("99-ignored.conflist"), "{\"cniVersion\": \"1.0.0\", \"name\": \"second\", \"plugins\": []}");
    }

    @AfterEach
    void removeBridge() {
        if (bridge != null) {
            HostCommand.run(List.of("ip", "link", "del", bridge), null);
        }
    }

    @Test
    void add_givesThePodNamespaceAnAddressTheHostReaches_andDelGivesItBack() throws Exception {
        CniNetwork cni = new CniNetwork(conf, BIN);
        CniNetwork.PodRef pod = new CniNetwork.PodRef("ab".repeat(32), "default", "web", "uid-1");

        CniNetwork.Attachment net = cni.add(pod);
        try {
            assertTrue(net.address().startsWith("10.251.7.") && net.address().endsWith("/24"), net.address());
            assertEquals("10.251.7.1", net.gateway());
            assertTrue(net.mac().matches("([0-9a-f]{2}:){5}[0-9a-f]{2}"), net.mac());
            String inside = HostCommand.check(List.of("ip", "-n", net.netns(), "-4", "addr", "show", "dev", "eth0"));
            assertTrue(inside.contains(net.address()), inside);
            // As root the JDK pings with ICMP echo: the pod's eth0 answers through the plugin's bridge.
            assertTrue(java.net.InetAddress.getByName(net.ip()).isReachable(5_000), "the host reaches " + net.ip());
            assertTrue(Files.exists(ipam.resolve("flotilla-test").resolve(net.ip())), "host-local recorded the address");
        } finally {
            cni.del(net, pod);
        }
        assertFalse(Files.exists(Path.of(net.netnsPath())), "the namespace is gone");
        assertFalse(Files.exists(ipam.resolve("flotilla-test").resolve(net.ip())), "the address is free again");
    }

    @Test
    void failingPlugin_leavesNoNamespaceNorAddress_andSaysWhy() throws Exception {
        Files.writeString(conf.resolve("10-test.conflist"), """
                {"cniVersion": "1.0.0", "name": "flotilla-test", "plugins": [
                  {"type": "bridge", "bridge": "%s", "ipam": {"type": "host-local",
                   "ranges": [[{"subnet": "10.251.8.0/24"}]], "dataDir": "%s"}},
                  {"type": "no-such-plugin"}
                ]}""".formatted(bridge, ipam));
        CniNetwork cni = new CniNetwork(conf, BIN);
        CniNetwork.PodRef pod = new CniNetwork.PodRef("cd".repeat(32), "default", "broken", "uid-2");

        CniException failure = assertThrows(CniException.class, () -> cni.add(pod));

        assertTrue(failure.getMessage().contains("no-such-plugin is not installed"), failure.getMessage());
        assertFalse(Files.exists(Path.of("/var/run/netns", CniNetwork.netnsName(pod.sandboxId()))));
        try (var taken = Files.list(ipam.resolve("flotilla-test"))) {
            assertTrue(taken.noneMatch(f -> f.getFileName().toString().startsWith("10.251.8.")),
                    "the first plugin's address was released by DEL");
        }
    }
}
