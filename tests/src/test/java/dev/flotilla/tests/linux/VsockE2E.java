package dev.flotilla.tests.linux;

import dev.flotilla.vmm.MicroVm;
import dev.flotilla.vmm.VmConfig;
import dev.flotilla.vmm.devices.virtio.vsock.VsockConnection;
import dev.flotilla.vmm.devices.virtio.vsock.VsockDeviceConfig;
import dev.flotilla.vmm.devices.virtio.vsock.VsockHost;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.StandardProtocolFamily;
import java.net.UnixDomainSocketAddress;
import java.nio.channels.Channels;
import java.nio.channels.ServerSocketChannel;
import java.nio.channels.SocketChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Random;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.TimeUnit;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;

/**
 * The Linux guest's virtio-vsock driver against the Java device and its host API, over both ring
 * layouts: several parallel guest → host streams echoed by a Java listener (the guest's
 * {@code vsock-echo client} checks every byte and prints {@code OK <n> <fnv1a>}, which must equal
 * what the host itself received), several parallel host → guest streams to {@code vsock-echo
 * server} checked from Java, and the same two directions through the Unix-socket bridge.
 */
class VsockE2E {

    static final long GUEST_CID = 3;
    static final int HOST_PORT = 5000;
    static final int GUEST_PORT = 6000;
    /** Sizes of the parallel streams: one byte, just over one 64 KiB packet, several buffers' worth. */
    static final long[] SIZES = {1, 65_537, 300_000, 1 << 20};
    static final String VSOCK_DEVICE_ID = "0x0013";
    static final Duration STREAM_TIMEOUT = Duration.ofSeconds(120);
    static final Pattern OK_LINE = Pattern.compile("(?m)^OK (\\d+) ([0-9a-f]{8})\\r?$");
    /**
     * Every blocking stream end gets its own thread. Not the common pool: in the lab (two CPUs)
     * its parallelism is 1, and a writer blocked there starved the reader queued behind it
     * (issue #3: hostToGuest timed out after 120 s).
     */
    static final ExecutorService STREAM_THREADS = Executors.newThreadPerTaskExecutor(
            Thread.ofVirtual().name("vsock-e2e-stream-", 0).factory());

    Path dir;

    @BeforeEach
    void makeDir() throws IOException {
        dir = Files.createTempDirectory("fl-vsock");
    }

    @AfterEach
    void removeDir() throws IOException {
        try (var s = Files.walk(dir)) {
            for (Path p : s.sorted(java.util.Comparator.reverseOrder()).toList()) {
                Files.deleteIfExists(p);
            }
        }
    }

    static MicroVm start(String command, String exit, VsockDeviceConfig vsock, Console console) throws Exception {
        VmConfig config = VmConfig.builder().vcpus(1).memoryMib(LinuxBootE2E.MEMORY_MIB)
                .kernel(GuestArtifacts.vmlinux()).initrd(GuestArtifacts.initrd())
                .cmdline(GuestArtifacts.cmdline("flotilla.run=\"" + command + "\" flotilla.exit=" + exit))
                .consoleOutput(console).device(vsock).build();
        MicroVm vm = MicroVm.create(config);
        vm.start();
        return vm;
    }

    static void awaitLine(Console console, String line, String name) throws InterruptedException {
        if (!console.await("\n" + line, LinuxBootE2E.BOOT_TIMEOUT)) {
            console.save(name);
            fail("the guest never printed '" + line + "'; console:\n" + console.text());
        }
    }

    /** The guest's negotiated features must show the layout the device offered. */
    static void assertRing(Console console, boolean packed) {
        VirtioBlockE2E.Run run = new VirtioBlockE2E.Run(null, console.text());
        VirtioBlockE2E.assertRing(run, VSOCK_DEVICE_ID, packed);
    }

    static String features() {
        return VirtioBlockE2E.FEATURES;
    }

    static int fnv1a(byte[] data, int length) {
        int h = 0x811c9dc5;
        for (int i = 0; i < length; i++) {
            h = (h ^ (data[i] & 0xff)) * 16777619;
        }
        return h;
    }

    /** Reads {@code in} to EOF, writing every chunk back to {@code out}; returns "n checksum" of what passed. */
    static String echo(InputStream in, OutputStream out) throws IOException {
        byte[] buffer = new byte[32 * 1024];
        ByteArrayOutputStream all = new ByteArrayOutputStream();
        int n;
        while ((n = in.read(buffer, 0, buffer.length)) >= 0) {
            out.write(buffer, 0, n);
            all.write(buffer, 0, n);
        }
        byte[] bytes = all.toByteArray();
        return "%d %08x".formatted(bytes.length, fnv1a(bytes, bytes.length));
    }

    /** What the guest clients reported, as sorted "n checksum" strings. */
    static List<String> okLines(String console) {
        List<String> lines = new ArrayList<>();
        Matcher m = OK_LINE.matcher(console);
        while (m.find()) {
            lines.add(m.group(1) + " " + m.group(2));
        }
        return lines.stream().sorted().toList();
    }

    static String parallelClients(int port) {
        StringBuilder sb = new StringBuilder();
        for (long size : SIZES) {
            sb.append("vsock-echo client 2 ").append(port).append(' ').append(size).append(" & ");
        }
        return sb.append("wait; echo CLIENTS_DONE").toString();
    }

    @ParameterizedTest(name = "packed={0}")
    @ValueSource(booleans = {false, true})
    void guestToHost_parallelStreams_echoedByAJavaListener(boolean packed) throws Exception {
        Console console = new Console();
        ConcurrentLinkedQueue<String> hostSaw = new ConcurrentLinkedQueue<>();
        ConcurrentLinkedQueue<Throwable> hostErrors = new ConcurrentLinkedQueue<>();
        String name = "vsock-g2h-" + (packed ? "packed" : "split");
        try (MicroVm vm = start(features() + "; " + parallelClients(HOST_PORT), "idle",
                VsockDeviceConfig.of(GUEST_CID).withRings(packed, true), console)) {
            VsockHost host = vm.vsock().orElseThrow();
            assertEquals(GUEST_CID, host.guestCid());
            try (AutoCloseable listener = host.listen(HOST_PORT, c -> {
                try (c) {
                    hostSaw.add(echo(c.inputStream(), c.outputStream()));
                    c.shutdownOutput();
                    c.flush();
                } catch (IOException | RuntimeException e) {
                    hostErrors.add(e);
                }
            })) {
                awaitLine(console, "CLIENTS_DONE", name);
                // A handler records after its last write was queued, possibly just after the guest finished.
                awaitSize(hostSaw, SIZES.length);
            }
            console.save(name);
            assertRing(console, packed);
            assertEquals(List.of(), List.copyOf(hostErrors), "host-side echo errors");
            List<String> expected = Arrays.stream(SIZES).mapToObj(s -> s + " ").sorted().toList();
            List<String> guest = okLines(console.text());
            assertEquals(SIZES.length, guest.size(), "one OK line per client; console:\n" + console.text());
            for (int i = 0; i < guest.size(); i++) {
                assertTrue(guest.get(i).startsWith(expected.get(i)), "sizes reported: " + guest);
            }
            assertEquals(guest, hostSaw.stream().sorted().toList(),
                    "the guest's echoed bytes (count, FNV-1a) differ from what the host received");
        }
    }

    @ParameterizedTest(name = "packed={0}")
    @ValueSource(booleans = {false, true})
    void hostToGuest_parallelStreams_echoedByTheGuestServer(boolean packed) throws Exception {
        Console console = new Console();
        String name = "vsock-h2g-" + (packed ? "packed" : "split");
        try (MicroVm vm = start(features() + "; vsock-echo server " + GUEST_PORT + " &", "idle",
                VsockDeviceConfig.of(GUEST_CID).withRings(packed, true), console)) {
            awaitLine(console, "listening on vsock port " + GUEST_PORT, name);
            VsockHost host = vm.vsock().orElseThrow();
            List<CompletableFuture<Void>> streams = new ArrayList<>();
            for (int i = 0; i < SIZES.length; i++) {
                byte[] data = new byte[(int) SIZES[i]];
                new Random(i).nextBytes(data);
                streams.add(CompletableFuture.runAsync(() -> roundTrip(host, data), STREAM_THREADS));
            }
            try {
                CompletableFuture.allOf(streams.toArray(CompletableFuture[]::new))
                        .get(STREAM_TIMEOUT.toSeconds(), TimeUnit.SECONDS);
            } finally {
                console.save(name);
            }
            assertRing(console, packed);
        }
    }

    /** One host → guest stream: writes {@code data}, half-closes, reads the echo to EOF, compares. */
    static void roundTrip(VsockHost host, byte[] data) {
        try (VsockConnection c = host.connect(GUEST_PORT, Duration.ofSeconds(30))) {
            CompletableFuture<byte[]> echoed = CompletableFuture.supplyAsync(() -> {
                try {
                    return c.inputStream().readAllBytes();
                } catch (IOException e) {
                    throw new java.io.UncheckedIOException(e);
                }
            }, STREAM_THREADS);
            c.outputStream().write(data);
            c.shutdownOutput();
            byte[] back = echoed.get(STREAM_TIMEOUT.toSeconds(), TimeUnit.SECONDS);
            assertEquals(data.length, back.length, "echoed byte count");
            assertArrayEquals(data, back, "echoed bytes");
        } catch (Exception e) {
            throw new AssertionError("host → guest stream of " + data.length + " bytes failed: " + e, e);
        }
    }

    @Test
    void unixBridge_bothDirections_roundTripThroughTheSocket() throws Exception {
        Console console = new Console();
        Path socket = dir.resolve("v.sock");
        // Guest → host connections to port P go to <socket>_P: an echo server on a Unix socket.
        Path forward = Path.of(socket + "_" + HOST_PORT);
        ConcurrentLinkedQueue<String> hostSaw = new ConcurrentLinkedQueue<>();
        try (ServerSocketChannel unixServer = ServerSocketChannel.open(StandardProtocolFamily.UNIX)) {
            unixServer.bind(UnixDomainSocketAddress.of(forward));
            Thread acceptor = Thread.ofVirtual().start(() -> {
                while (unixServer.isOpen()) {
                    try {
                        SocketChannel ch = unixServer.accept();
                        Thread.ofVirtual().start(() -> {
                            try (ch) {
                                hostSaw.add(echo(Channels.newInputStream(ch), Channels.newOutputStream(ch)));
                                ch.shutdownOutput();
                            } catch (IOException e) {
                                hostSaw.add("error: " + e);
                            }
                        });
                    } catch (IOException e) {
                        return;
                    }
                }
            });
            String command = "vsock-echo server " + GUEST_PORT + " & vsock-echo client 2 " + HOST_PORT + " 300000; echo CLIENTS_DONE";
            try (MicroVm vm = start(command, "idle", VsockDeviceConfig.of(GUEST_CID).withUnixBridge(socket), console)) {
                awaitLine(console, "CLIENTS_DONE", "vsock-bridge");
                awaitLine(console, "listening on vsock port " + GUEST_PORT, "vsock-bridge");
                awaitSize(hostSaw, 1);
                assertEquals(okLines(console.text()), List.copyOf(hostSaw), "guest → host through " + forward);

                byte[] data = new byte[200_000];
                new Random(7).nextBytes(data);
                try (SocketChannel ch = SocketChannel.open(UnixDomainSocketAddress.of(socket))) {
                    OutputStream out = Channels.newOutputStream(ch);
                    InputStream in = Channels.newInputStream(ch);
                    out.write(("CONNECT " + GUEST_PORT + "\n").getBytes(StandardCharsets.US_ASCII));
                    String reply = readLine(in);
                    assertTrue(reply.matches("OK \\d+"), "bridge reply '" + reply + "'");
                    CompletableFuture<byte[]> echoed = CompletableFuture.supplyAsync(() -> {
                        try {
                            return in.readAllBytes();
                        } catch (IOException e) {
                            throw new java.io.UncheckedIOException(e);
                        }
                    }, STREAM_THREADS);
                    out.write(data);
                    ch.shutdownOutput();
                    assertArrayEquals(data, echoed.get(STREAM_TIMEOUT.toSeconds(), TimeUnit.SECONDS), "host → guest through " + socket);
                }
            } finally {
                console.save("vsock-bridge");
            }
            assertTrue(Files.notExists(socket), "the bridge socket is removed with the VM");
            unixServer.close();
            acceptor.join(5000);
        }
    }

    static void awaitSize(java.util.Collection<?> c, int size) throws InterruptedException {
        long deadline = System.nanoTime() + Duration.ofSeconds(10).toNanos();
        while (c.size() < size && System.nanoTime() < deadline) {
            Thread.sleep(20);
        }
    }

    static String readLine(InputStream in) throws IOException {
        StringBuilder sb = new StringBuilder();
        int c;
        while ((c = in.read()) >= 0 && c != '\n') {
            sb.append((char) c);
        }
        return sb.toString();
    }
}
