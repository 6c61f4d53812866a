package dev.flotilla.vmm.devices.virtio.vsock;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.net.StandardProtocolFamily;
import java.net.UnixDomainSocketAddress;
import java.nio.ByteBuffer;
import java.nio.channels.ServerSocketChannel;
import java.nio.channels.SocketChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.time.Duration;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.Executors;

import static org.junit.jupiter.api.Assertions.*;

/** The Firecracker-style Unix bridge over real Unix sockets, with the guest played by {@link GuestVsock}. */
class VsockUnixBridgeTest {

    static final Duration WAIT = Duration.ofSeconds(10);

    @TempDir
    Path dir;

    final VirtioVsock device = new VirtioVsock(GuestVsock.CID);

    static String readLine(SocketChannel channel) throws IOException {
        StringBuilder line = new StringBuilder();
        ByteBuffer one = ByteBuffer.allocate(1);
        while (true) {
            one.clear();
            if (channel.read(one) < 0) {
                return null;
            }
            char c = (char) one.get(0);
            if (c == '\n') {
                return line.toString();
            }
            line.append(c);
        }
    }

    static byte[] readExactly(SocketChannel channel, int length) throws IOException {
        ByteBuffer buffer = ByteBuffer.allocate(length);
        while (buffer.hasRemaining()) {
            if (channel.read(buffer) < 0) {
                throw new IOException("EOF after " + buffer.position());
            }
        }
        return buffer.array();
    }

    @Test
    void connectCommand_toGuestEchoPort_okThenBytesEchoed() throws Exception {
        GuestVsock guest = new GuestVsock(device, false);
        guest.listen(52, true);
        Path socket = dir.resolve("v.sock");
        try (VsockUnixBridge bridge = VsockUnixBridge.start(device, socket)) {
            CompletableFuture<String> result = CompletableFuture.supplyAsync(() -> {
                try (SocketChannel client = SocketChannel.open(UnixDomainSocketAddress.of(socket))) {
                    client.write(ByteBuffer.wrap("CONNECT 52\n".getBytes(StandardCharsets.US_ASCII)));
                    String ok = readLine(client);
                    byte[] data = VirtioVsockTest.pattern(100_000, 9);
                    client.write(ByteBuffer.wrap(data));
                    byte[] back = readExactly(client, data.length);
                    return ok + (java.util.Arrays.equals(data, back) ? " echoed" : " corrupted");
                } catch (IOException e) {
                    return "failed: " + e;
                }
            }, Executors.newVirtualThreadPerTaskExecutor());
            assertTrue(guest.runUntil(result::isDone, WAIT));
            assertTrue(result.get().matches("OK \\d+ echoed"), result.get());
        }
    }

    @Test
    void connectCommand_malformed_socketClosedWithoutReply() throws Exception {
        new GuestVsock(device, false);
        Path socket = dir.resolve("v.sock");
        try (VsockUnixBridge bridge = VsockUnixBridge.start(device, socket);
             SocketChannel client = SocketChannel.open(UnixDomainSocketAddress.of(socket))) {
            client.write(ByteBuffer.wrap("HELLO 52\n".getBytes(StandardCharsets.US_ASCII)));
            assertNull(readLine(client), "closed without a reply");
        }
    }

    @Test
    void connectCommand_guestRefuses_socketClosedWithoutReply() throws Exception {
        GuestVsock guest = new GuestVsock(device, false);
        Path socket = dir.resolve("v.sock");
        try (VsockUnixBridge bridge = VsockUnixBridge.start(device, socket)) {
            CompletableFuture<String> line = CompletableFuture.supplyAsync(() -> {
                try (SocketChannel client = SocketChannel.open(UnixDomainSocketAddress.of(socket))) {
                    client.write(ByteBuffer.wrap("CONNECT 53\n".getBytes(StandardCharsets.US_ASCII)));
                    return String.valueOf(readLine(client));
                } catch (IOException e) {
                    return "failed: " + e;
                }
            }, Executors.newVirtualThreadPerTaskExecutor());
            assertTrue(guest.runUntil(line::isDone, WAIT));
            assertEquals("null", line.get());
        }
    }

    @Test
    void guestConnect_toPortWithUnixListener_forwardedToPathUnderscorePort() throws Exception {
        GuestVsock guest = new GuestVsock(device, true);
        Path socket = dir.resolve("v.sock");
        try (VsockUnixBridge bridge = VsockUnixBridge.start(device, socket);
             ServerSocketChannel upstream = ServerSocketChannel.open(StandardProtocolFamily.UNIX)) {
            upstream.bind(UnixDomainSocketAddress.of(Path.of(socket + "_700")));
            CompletableFuture<byte[]> seen = CompletableFuture.supplyAsync(() -> {
                try (SocketChannel peer = upstream.accept()) {
                    byte[] got = readExactly(peer, 5);
                    peer.write(ByteBuffer.wrap("world".getBytes(StandardCharsets.US_ASCII)));
                    return got;
                } catch (IOException e) {
                    throw new RuntimeException(e);
                }
            }, Executors.newVirtualThreadPerTaskExecutor());
            GuestVsock.Stream s = guest.connect(700);
            assertTrue(guest.runUntil(() -> s.established, WAIT));
            s.write("hello".getBytes(StandardCharsets.US_ASCII));
            assertTrue(guest.runUntil(() -> seen.isDone() && s.received.size() == 5, WAIT));
            assertEquals("hello", new String(seen.get(), StandardCharsets.US_ASCII));
            assertEquals("world", s.received.toString(StandardCharsets.US_ASCII));
        }
    }

    @Test
    void guestConnect_noUnixListenerForPort_reset() throws Exception {
        GuestVsock guest = new GuestVsock(device, false);
        try (VsockUnixBridge bridge = VsockUnixBridge.start(device, dir.resolve("v.sock"))) {
            GuestVsock.Stream s = guest.connect(701);
            assertTrue(guest.runUntil(() -> s.reset, WAIT));
            assertFalse(s.established);
        }
    }

    @Test
    void parseConnect_rejectsGarbageAndOutOfRangePorts() {
        assertEquals(52, VsockUnixBridge.parseConnect("CONNECT 52"));
        assertEquals(52, VsockUnixBridge.parseConnect("CONNECT 52\r"));
        assertThrows(IllegalArgumentException.class, () -> VsockUnixBridge.parseConnect("CONNECT x"));
        assertThrows(IllegalArgumentException.class, () -> VsockUnixBridge.parseConnect("CONNECT 4294967295"));
        assertThrows(IllegalArgumentException.class, () -> VsockUnixBridge.parseConnect("connect 5"));
    }
}
