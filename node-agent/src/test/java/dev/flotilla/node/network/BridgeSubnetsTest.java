package dev.flotilla.node.network;

import dev.flotilla.node.config.NodeConfig;
import dev.flotilla.node.sandbox.SandboxRecord.NetAttachment;
import dev.flotilla.vmm.sys.Libc;
import dev.flotilla.vmm.sys.Tun;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HexFormat;
import java.util.List;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

/**
 * A pool larger than one bridge's subnet spreads its taps over several bridges (a Linux bridge takes at most 1,023
 * ports), and isolation holds between bridges: a frame a sandbox sends to another subnet through its gateway is
 * routed by the host only when sandbox-to-sandbox traffic is allowed. Real bridges, taps and nftables rules; the
 * "sandboxes" are this test writing and reading raw frames on the taps (needs root, as the agent does).
 */
class BridgeSubnetsTest {
    static final String BRIDGE = "fltsub0";
    static final String POOL = "10.219.11.0/24";
    static final int PREFIX = 30; // one sandbox per bridge: every pair of sandboxes is on two bridges

    final List<Integer> fds = new ArrayList<>();
    String forwardingBefore;

    @BeforeEach
    void needsRoot() throws Exception {
        assumeTrue("root".equals(System.getProperty("user.name")), "creating taps and bridges needs root (CAP_NET_ADMIN)");
        forwardingBefore = Files.readString(Path.of("/proc/sys/net/ipv4/ip_forward")).strip();
    }

    @AfterEach
    void cleanUp() {
        fds.forEach(Libc::close);
        try (var links = Files.list(Path.of("/sys/class/net"))) {
            for (Path link : links.toList()) {
                String name = link.getFileName().toString();
                if (name.startsWith("flt0adb0b") || name.equals(BRIDGE) || name.startsWith(BRIDGE + "-")) {
                    HostCommand.run(List.of("ip", "link", "del", name), null);
                }
            }
        } catch (java.io.IOException e) {
            throw new java.io.UncheckedIOException(e);
        }
        HostCommand.run(List.of("nft", "delete", "table", "inet", "flotilla_" + BRIDGE), null);
        if (forwardingBefore != null) {
            HostCommand.run(List.of("sysctl", "-q", "-w", "net.ipv4.ip_forward=" + forwardingBefore), null);
        }
    }

    static NodeConfig.Network network(String pool, int prefix, boolean allowSandboxToSandbox) {
        return new NodeConfig.Network() {
            public boolean enabled() { return true; }
            public String bridge() { return BRIDGE; }
            public String pool() { return pool; }
            public int bridgePrefixLength() { return prefix; }
            public boolean nat() { return false; }
            public boolean allowSandboxToSandbox() { return allowSandboxToSandbox; }
            public boolean allowNodeApi() { return false; }
        };
    }

    static String master(String tap) throws Exception {
        return Files.readSymbolicLink(Path.of("/sys/class/net", tap, "master")).getFileName().toString();
    }

    @Test
    void attach_pastOneSubnet_opensTheNextBridgeWithItsOwnGateway() throws Exception {
        // The first bridge exists from an agent that ran with the whole pool as one subnet: adopted, re-addressed.
        HostCommand.check(List.of("ip", "link", "add", BRIDGE, "type", "bridge"));
        HostCommand.check(List.of("ip", "addr", "add", "10.219.11.1/24", "dev", BRIDGE));
        SandboxNetwork net = new SandboxNetwork(network(POOL, PREFIX, false), 7070);
        NetAttachment a = net.attach();
        NetAttachment b = net.attach();
        NetAttachment c = net.attach();

        assertEquals(List.of("10.219.11.2", "10.219.11.6", "10.219.11.10"), List.of(a.address(), b.address(), c.address()));
        assertEquals(List.of("10.219.11.1", "10.219.11.5", "10.219.11.9"), List.of(a.gateway(), b.gateway(), c.gateway()));
        assertEquals(30, a.prefixLength());
        assertEquals(List.of(BRIDGE, BRIDGE + "-1", BRIDGE + "-2"), List.of(master(a.tap()), master(b.tap()), master(c.tap())));
        assertEquals(List.of(BRIDGE, BRIDGE + "-1", BRIDGE + "-2"), net.bridges());
        assertTrue(HostCommand.check(List.of("ip", "-4", "addr", "show", "dev", BRIDGE + "-1")).contains(" 10.219.11.5/30 "));
        String first = HostCommand.check(List.of("ip", "-4", "addr", "show", "dev", BRIDGE));
        assertTrue(first.contains(" 10.219.11.1/30 ") && !first.contains("/24"), first);
        String rules = HostCommand.check(List.of("nft", "list", "table", "inet", "flotilla_" + BRIDGE));
        assertTrue(rules.contains("\"" + BRIDGE + "-2\"") && rules.contains("hook forward"), rules);

        // A freed address is reused on its own bridge; a restarted agent sees taps on every bridge of its pool as its own.
        net.detach(b);
        assertEquals(b.address(), net.attach().address());
        SandboxNetwork restarted = new SandboxNetwork(network(POOL, PREFIX, false), 7070);
        assertEquals(3, restarted.removeOrphanTaps(java.util.Set.of()).size());
    }

    @Test
    void constructor_badPrefixOrNameTooLongForTheBridges_failsWithASentence() {
        var prefix = assertThrows(IllegalArgumentException.class, () -> new SandboxNetwork(network(POOL, 21, false), 1));
        assertTrue(prefix.getMessage().contains("bridge-prefix-length=21: must be 22 to 30"), prefix.getMessage());
        var name = assertThrows(IllegalArgumentException.class, () -> new SandboxNetwork(new NodeConfig.Network() {
            public boolean enabled() { return true; }
            public String bridge() { return "flotilla-bridge"; }
            public String pool() { return "10.0.0.0/8"; }
            public int bridgePrefixLength() { return 22; }
            public boolean nat() { return false; }
            public boolean allowSandboxToSandbox() { return false; }
            public boolean allowNodeApi() { return false; }
        }, 1));
        assertTrue(name.getMessage().contains("its last bridge would be flotilla-bridge-16383"), name.getMessage());
    }

    /** /30: A and B on two bridges; /29: on one bridge, A sending through the gateway instead of straight to B. */
    @ParameterizedTest(name = "/{0} subnets, sandbox-to-sandbox allowed={1}")
    @CsvSource({"30,false", "30,true", "29,false", "29,true"})
    void frameThroughTheGatewayToAnotherSandbox_isRoutedOnlyWhenAllowed(int prefix, boolean allowed) throws Exception {
        SandboxNetwork net = new SandboxNetwork(network(POOL, prefix, allowed), 7070);
        NetAttachment a = net.attach();
        NetAttachment b = net.attach();
        assertEquals(prefix == 29, master(a.tap()).equals(master(b.tap())));
        int fdA = open(a.tap());
        int fdB = open(b.tap());
        // Forwarding on either way, so that only our rule can stop the frame; B's MAC known, so no ARP is needed.
        HostCommand.check(List.of("sysctl", "-q", "-w", "net.ipv4.ip_forward=1"));
        HostCommand.check(List.of("ip", "neigh", "replace", b.address(), "lladdr", b.mac(), "dev", master(b.tap()), "nud", "permanent"));
        String gatewayMac = Files.readString(Path.of("/sys/class/net", master(a.tap()), "address")).strip();
        byte[] payload = ("probe from " + a.address() + " allowed=" + allowed).getBytes(StandardCharsets.UTF_8);

        write(fdA, udpFrame(gatewayMac, a.mac(), a.address(), b.address(), payload));
        boolean arrived = awaitPayload(fdB, payload, 2_000);

        assertEquals(allowed, arrived, allowed ? "the host routes A's frame to B's bridge" : "the host drops A's frame to B");
    }

    // ---- raw frames on taps (10-byte virtio-net header first, all zero: no offloads)

    static final int VNET_HEADER = 10;

    int open(String tap) {
        int fd = Tun.openTap(tap, VNET_HEADER);
        fds.add(fd);
        return fd;
    }

    static void write(int fd, byte[] frame) {
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment buffer = arena.allocate(VNET_HEADER + frame.length);
            MemorySegment.copy(frame, 0, buffer, ValueLayout.JAVA_BYTE, VNET_HEADER, frame.length);
            long n = Libc.writeOrErrno(fd, buffer);
            assertEquals(buffer.byteSize(), n, "write to tap");
        }
    }

    /** Reads frames from a non-blocking tap until one carries {@code payload} or the time is up. */
    static boolean awaitPayload(int fd, byte[] payload, long millis) throws InterruptedException {
        long deadline = System.nanoTime() + millis * 1_000_000;
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment buffer = arena.allocate(65_536);
            while (System.nanoTime() < deadline) {
                long n = Libc.readOrErrno(fd, buffer);
                if (n <= 0) {
                    Thread.sleep(20);
                    continue;
                }
                String frame = HexFormat.of().formatHex(buffer.asSlice(0, n).toArray(ValueLayout.JAVA_BYTE));
                if (frame.contains(HexFormat.of().formatHex(payload))) {
                    return true;
                }
            }
        }
        return false;
    }

    static byte[] udpFrame(String dstMac, String srcMac, String src, String dst, byte[] payload) {
        ByteBuffer f = ByteBuffer.allocate(14 + 20 + 8 + payload.length);
        f.put(mac(dstMac)).put(mac(srcMac)).putShort((short) 0x0800);
        int ipStart = f.position();
        f.put((byte) 0x45).put((byte) 0).putShort((short) (20 + 8 + payload.length)).putShort((short) 1)
                .putShort((short) 0x4000).put((byte) 64).put((byte) 17).putShort((short) 0).put(ip(src)).put(ip(dst));
        int sum = 0;
        for (int i = ipStart; i < ipStart + 20; i += 2) {
            sum += f.getShort(i) & 0xFFFF;
        }
        sum = (sum & 0xFFFF) + (sum >>> 16);
        sum = (sum & 0xFFFF) + (sum >>> 16);
        f.putShort(ipStart + 10, (short) ~sum);
        f.putShort((short) 40000).putShort((short) 9).putShort((short) (8 + payload.length)).putShort((short) 0).put(payload);
        return f.array();
    }

    static byte[] mac(String text) {
        return HexFormat.ofDelimiter(":").parseHex(text);
    }

    static byte[] ip(String text) {
        String[] o = text.split("\\.");
        return new byte[] {(byte) Integer.parseInt(o[0]), (byte) Integer.parseInt(o[1]), (byte) Integer.parseInt(o[2]),
                (byte) Integer.parseInt(o[3])};
    }
}
