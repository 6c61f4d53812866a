package dev.flotilla.vmm.devices.virtio.net;

import dev.flotilla.vmm.sys.Errno;
import dev.flotilla.vmm.sys.Iovec;
import dev.flotilla.vmm.sys.SyscallException;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

import java.io.IOException;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.net.DatagramPacket;
import java.net.DatagramSocket;
import java.net.InetAddress;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.concurrent.TimeUnit;

import static org.junit.jupiter.api.Assertions.*;

/**
 * A real tap through /dev/net/tun: created by the backend, configured with ip(8), frames both ways.
 * Needs CAP_NET_ADMIN; skipped (saying why) where /dev/net/tun is missing or not permitted.
 */
class TapBackendTest {

    final String name = "fltap" + ProcessHandle.current().pid() % 100000;
    TapBackend tap;
    final Arena arena = Arena.ofConfined();

    @BeforeEach
    void open() {
        Assumptions.assumeTrue(Files.exists(Path.of("/dev/net/tun")), "/dev/net/tun is missing: no tap tests here");
        try {
            tap = new TapBackend(name);
        } catch (SyscallException e) {
            Assumptions.abort("cannot create tap " + name + " (needs CAP_NET_ADMIN): " + e.getMessage());
        }
    }

    @AfterEach
    void close() {
        if (tap != null) {
            tap.close();
        }
        arena.close();
    }

    static void ip(String... args) throws IOException, InterruptedException {
        String[] cmd = new String[args.length + 1];
        cmd[0] = "ip";
        System.arraycopy(args, 0, cmd, 1, args.length);
        Process p = new ProcessBuilder(cmd).redirectErrorStream(true).start();
        String out = new String(p.getInputStream().readAllBytes());
        assertTrue(p.waitFor(10, TimeUnit.SECONDS));
        assertEquals(0, p.exitValue(), String.join(" ", cmd) + ": " + out);
    }

    static long counter(String name, String stat) throws IOException {
        return Long.parseLong(Files.readString(Path.of("/sys/class/net", name, "statistics", stat)).trim());
    }

    @Test
    void open_missingInterface_createdAndGoneAfterClose() {
        assertTrue(Files.isDirectory(Path.of("/sys/class/net", name)));
        tap.close();
        tap = null;
        assertFalse(Files.exists(Path.of("/sys/class/net", name)), "a tap the VMM created lives as long as its fd");
    }

    @Test
    void read_hostSendsToNeighbour_arpRequestArrivesWithVnetHeader() throws Exception {
        ip("link", "set", name, "up");
        ip("addr", "add", "10.231.7.1/24", "dev", name);
        tap.setOffload(0);
        MemorySegment buffer = arena.allocate(NetHeader.SIZE + NetHeader.MAX_FRAME);
        // The host has to resolve 10.231.7.2 first: an ARP request goes out through the tap.
        try (DatagramSocket s = new DatagramSocket()) {
            byte[] hello = "hello".getBytes();
            s.send(new DatagramPacket(hello, hello.length, InetAddress.getByName("10.231.7.2"), 9));
        }
        long n = -Errno.EAGAIN;
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(5);
        boolean sawArp = false;
        while (!sawArp && System.nanoTime() < deadline) {
            n = tap.read(buffer);
            if (n == -Errno.EAGAIN) {
                Thread.sleep(10);
                continue;
            }
            assertTrue(n > 0, "read failed: errno " + -n);
            int etherType = (buffer.get(ValueLayout.JAVA_BYTE, NetHeader.SIZE + 12) & 0xff) << 8
                    | buffer.get(ValueLayout.JAVA_BYTE, NetHeader.SIZE + 13) & 0xff;
            sawArp = etherType == 0x0806;
        }
        assertTrue(sawArp, "no ARP request came out of the tap (last read " + n + ")");
    }

    @Test
    void writev_frameWithHeader_countedAsReceivedByHost() throws Exception {
        ip("link", "set", name, "up");
        long before = counter(name, "rx_packets");
        MemorySegment header = arena.allocate(NetHeader.SIZE);
        MemorySegment frame = arena.allocate(60);
        for (int i = 0; i < 6; i++) {
            frame.set(ValueLayout.JAVA_BYTE, i, (byte) 0xff); // broadcast
        }
        frame.set(ValueLayout.JAVA_BYTE, 6, (byte) 0x02);
        frame.set(ValueLayout.JAVA_BYTE, 12, (byte) 0x88); // a local experimental EtherType
        frame.set(ValueLayout.JAVA_BYTE, 13, (byte) 0xb5);
        MemorySegment iov = arena.allocate(Iovec.LAYOUT, 2);
        Iovec.set(iov, 0, header);
        Iovec.set(iov, 1, frame);

        long n = tap.writev(iov, 2);

        assertEquals(NetHeader.SIZE + 60, n);
        assertEquals(before + 1, counter(name, "rx_packets"));
    }

    @Test
    void setOffload_csumAndTso_accepted() {
        tap.setOffload(dev.flotilla.vmm.sys.Tun.TUN_F_CSUM | dev.flotilla.vmm.sys.Tun.TUN_F_TSO4 | dev.flotilla.vmm.sys.Tun.TUN_F_TSO6);
    }
}
