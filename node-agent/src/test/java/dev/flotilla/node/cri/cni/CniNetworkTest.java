package dev.flotilla.node.cri.cni;

import dev.flotilla.node.network.HostCommand;
import dev.flotilla.node.network.SandboxNetwork;
import dev.flotilla.vmm.devices.virtio.net.NetHeader;
import dev.flotilla.vmm.devices.virtio.net.TapBackend;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
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
    void microVmTap_joinedToThePodNamespace_receivesWhatTheNetworkSendsToThePodAddress() throws Exception {
        CniNetwork cni = new CniNetwork(conf, BIN);
        CniNetwork.PodRef pod = new CniNetwork.PodRef("ef".repeat(32), "default", "vm", "uid-3");
        CniNetwork.Attachment net = cni.add(pod);
        String tap = "flt" + UUID.randomUUID().toString().substring(0, 8);
        // Opened the way the VMM opens a VM's NIC (it creates the tap), then joined as a pod's VM is.
        TapBackend vmNic = new TapBackend(tap);
        try (Arena arena = Arena.ofConfined()) {
            SandboxNetwork.joinPodNamespace(tap, net.netns());
            String filters = HostCommand.check(List.of("tc", "-n", net.netns(), "filter", "show", "dev", "eth0", "ingress"));
            assertTrue(filters.contains("mirred") && filters.contains(tap), filters);

            // The host asks for the pod's address: eth0's frames are redirected, so the VM's tap gets the ARP request.
            Thread.ofVirtual().start(() -> {
                try {
                    java.net.InetAddress.getByName(net.ip()).isReachable(3_000);
                } catch (java.io.IOException ignored) {
                    // nobody answers: there is no VM behind the tap
                }
            });
            MemorySegment frame = arena.allocate(2048);
            byte[] wanted = java.net.InetAddress.getByName(net.ip()).getAddress();
            boolean seen = false;
            long until = System.nanoTime() + java.util.concurrent.TimeUnit.SECONDS.toNanos(5);
            while (!seen && System.nanoTime() < until) {
                long n = vmNic.read(frame);
                if (n <= 0) {
                    Thread.sleep(10);
                    continue;
                }
                int eth = NetHeader.SIZE; // virtio_net_hdr first, then the Ethernet frame
                boolean arp = n >= eth + 42 && frame.get(ValueLayout.JAVA_BYTE, eth + 12) == 0x08
                        && frame.get(ValueLayout.JAVA_BYTE, eth + 13) == 0x06;
                if (arp) {
                    byte[] target = new byte[4];
                    MemorySegment.copy(frame, ValueLayout.JAVA_BYTE, eth + 38, target, 0, 4);
                    seen = java.util.Arrays.equals(target, wanted);
                }
            }
            assertTrue(seen, "an ARP request for " + net.ip() + " reached the VM's tap through eth0");
        } finally {
            vmNic.close();
            cni.del(net, pod);
        }
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
