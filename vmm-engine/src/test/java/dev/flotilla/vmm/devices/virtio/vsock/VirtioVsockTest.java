package dev.flotilla.vmm.devices.virtio.vsock;

import dev.flotilla.vmm.devices.virtio.testing.MmioDriver;
import dev.flotilla.vmm.devices.virtio.vsock.GuestVsock.Packet;
import dev.flotilla.vmm.devices.virtio.vsock.GuestVsock.Stream;
import dev.flotilla.vmm.devices.virtio.vsock.VsockMetrics.Counter;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

import java.io.IOException;
import java.net.ConnectException;
import java.net.SocketTimeoutException;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.ForkJoinPool;

import static dev.flotilla.vmm.devices.virtio.vsock.VsockHeader.*;
import static org.junit.jupiter.api.Assertions.*;

/** virtio-vsock through the mock driver: both ring layouts, both directions, flow control and every rejection. */
class VirtioVsockTest {

    static final Duration WAIT = Duration.ofSeconds(10);

    final VirtioVsock device = new VirtioVsock(GuestVsock.CID);
    /** Host-side blocking work; not the common pool, which has one worker on a two-core machine. */
    static final java.util.concurrent.ExecutorService HOST_THREADS = java.util.concurrent.Executors.newVirtualThreadPerTaskExecutor();

    static byte[] pattern(int length, int seed) {
        byte[] data = new byte[length];
        for (int i = 0; i < length; i++) {
            data[i] = (byte) (i * 31 + seed);
        }
        return data;
    }

    /** Echoes everything on the connection back until the guest shuts down its sending side. */
    static void echo(VsockConnection c) {
        byte[] buffer = new byte[8192];
        try {
            int n;
            while ((n = c.read(buffer, 0, buffer.length)) >= 0) {
                c.write(buffer, 0, n);
            }
            c.close();
        } catch (IOException e) {
            c.abort(e.getMessage());
        }
    }

    static CompletableFuture<byte[]> readAll(VsockConnection c) {
        return CompletableFuture.supplyAsync(() -> {
            try {
                return c.inputStream().readAllBytes();
            } catch (IOException e) {
                throw new RuntimeException(e);
            }
        }, HOST_THREADS);
    }

    @Test
    void identity_deviceId19ThreeQueuesGuestCidInConfig() {
        VirtioVsock big = new VirtioVsock(0xffff_fffeL);
        GuestVsock guest = new GuestVsock(big, false);
        assertEquals(19, guest.mmio.read(MmioDriver.DEVICE_ID));
        assertEquals(0xffff_fffeL, Integer.toUnsignedLong(guest.mmio.read(MmioDriver.CONFIG)));
        assertEquals(0, guest.mmio.read(MmioDriver.CONFIG + 4));
        assertEquals(0xffff_fffeL, guest.transport.read(MmioDriver.CONFIG, 8));
        assertEquals(3, big.queueCount());
    }

    @Test
    void constructor_reservedCid_refused() {
        assertThrows(IllegalArgumentException.class, () -> new VirtioVsock(2));
        assertThrows(IllegalArgumentException.class, () -> new VirtioVsock(0xffff_ffffL));
    }

    @ParameterizedTest(name = "packed={0}")
    @ValueSource(booleans = {false, true})
    void guestConnect_toListeningPort_acceptedAndEchoed(boolean packed) throws Exception {
        GuestVsock guest = new GuestVsock(device, packed);
        device.listen(5000, VirtioVsockTest::echo);
        Stream s = guest.connect(5000);
        assertTrue(guest.runUntil(() -> s.established, WAIT));

        byte[] data = pattern(300_000, 7);
        s.write(data);
        assertTrue(guest.runUntil(() -> s.received.size() == data.length, WAIT), "echo complete");
        assertArrayEquals(data, s.received.toByteArray());

        s.send(OP_SHUTDOWN, SHUTDOWN_SEND | SHUTDOWN_RCV, new byte[0]);
        assertTrue(guest.runUntil(() -> device.connectionCount() == 0, WAIT), "closed after both sides shut down");
    }

    @ParameterizedTest(name = "packed={0}")
    @ValueSource(booleans = {false, true})
    void hostConnect_toGuestEchoPort_dataEchoed(boolean packed) throws Exception {
        GuestVsock guest = new GuestVsock(device, packed);
        guest.listen(1234, true);
        CompletableFuture<VsockConnection> pending = device.connectAsync(1234, WAIT);
        assertTrue(guest.runUntil(pending::isDone, WAIT));
        VsockConnection c = pending.get();
        assertEquals(1234, c.guestPort());
        assertTrue(c.hostPort() >= VirtioVsock.FIRST_EPHEMERAL_PORT);

        byte[] data = pattern(500_000, 3);
        CompletableFuture<byte[]> echoed = CompletableFuture.supplyAsync(() -> {
            byte[] result = new byte[data.length];
            try {
                int got = 0;
                while (got < data.length) {
                    got += c.read(result, got, data.length - got);
                }
            } catch (IOException e) {
                throw new RuntimeException(e);
            }
            return result;
        }, HOST_THREADS);
        CompletableFuture<Void> written = CompletableFuture.runAsync(() -> {
            try {
                c.write(data, 0, data.length);
            } catch (IOException e) {
                throw new RuntimeException(e);
            }
        }, HOST_THREADS);
        assertTrue(guest.runUntil(() -> echoed.isDone() && written.isDone(), WAIT), () -> {
            Stream s = guest.streams.values().iterator().next();
            synchronized (c) {
                return "guest sent=%d recv=%d pending=%d credit=%d; host toSend=%d received=%d sentCount=%d peerBuf=%d peerFwd=%d creditReq=%b fwd=%d lastRep=%d"
                        .formatted(s.sentCount, s.receivedCount, s.pendingOut.size(), s.peerCredit(), c.toSend.size(), c.received.size(),
                                c.sentCount, c.peerBufAlloc, c.peerForwardedCount, c.creditRequested, c.forwardedCount, c.lastReportedForwardedCount);
            }
        });
        assertArrayEquals(data, echoed.get());
    }

    /**
     * The Linux e2e pattern (VsockE2E.hostToGuest_parallelStreams...) against a guest echo that,
     * like {@code vsock-echo server}, stops reading while its echo waits for host credit: each
     * stream writes, half-closes and reads the echo to EOF while the others run.
     */
    @ParameterizedTest(name = "packed={0}")
    @ValueSource(booleans = {false, true})
    void hostToGuest_parallelStreamsAgainstABlockingEcho_allEchoedToEndOfStream(boolean packed) throws Exception {
        GuestVsock guest = new GuestVsock(device, packed);
        guest.listen(6000, true);
        guest.echoWindow = 64 * 1024;
        List<CompletableFuture<byte[]>> streams = new ArrayList<>();
        for (int size : new int[] {1, 65_537, 300_000, 1 << 20}) {
            byte[] data = pattern(size, size);
            streams.add(CompletableFuture.supplyAsync(() -> writeHalfCloseReadAll(device, data), HOST_THREADS));
        }
        assertTrue(guest.runUntil(() -> streams.stream().allMatch(CompletableFuture::isDone), WAIT));
        for (CompletableFuture<byte[]> stream : streams) {
            int size = stream.get().length;
            assertArrayEquals(pattern(size, size), stream.get());
        }
    }

    /**
     * Regression (issue #3): a host writer blocked on a ForkJoinPool worker, with its reader queued
     * on the same pool behind it. A parallelism-1 pool is the common pool of a two-CPU machine,
     * which is where VsockE2E ran its streams; before writes blocked as managed blocks, the pool
     * never started a second worker, the reader never ran, the guest's echo filled every buffer
     * and both ends waited forever.
     */
    @Test
    void write_blockedOnAForkJoinWorker_poolRunsTheReaderQueuedBehindIt() throws Exception {
        GuestVsock guest = new GuestVsock(device, false);
        guest.listen(6000, true);
        guest.echoWindow = 64 * 1024;
        CompletableFuture<VsockConnection> pending = device.connectAsync(6000, WAIT);
        assertTrue(guest.runUntil(pending::isDone, WAIT));
        VsockConnection c = pending.get();
        // More than every buffer on the way holds (host send + guest credit + echo + host receive).
        byte[] data = pattern(1 << 20, 5);
        ForkJoinPool pool = new ForkJoinPool(1);
        try {
            CompletableFuture<byte[]> roundTrip = CompletableFuture.supplyAsync(() -> {
                CompletableFuture<byte[]> echoed = CompletableFuture.supplyAsync(() -> readAllBytes(c), pool);
                try {
                    c.write(data, 0, data.length);
                    c.shutdownOutput();
                    return echoed.get();
                } catch (IOException | InterruptedException | ExecutionException e) {
                    throw new RuntimeException(e);
                }
            }, pool);
            assertTrue(guest.runUntil(roundTrip::isDone, WAIT), "the round trip stalled: the reader never ran");
            assertArrayEquals(data, roundTrip.get());
        } finally {
            c.abort("test over");
            pool.shutdownNow();
        }
    }

    static byte[] readAllBytes(VsockConnection c) {
        try {
            return c.inputStream().readAllBytes();
        } catch (IOException e) {
            throw new RuntimeException(e);
        }
    }

    /** One host → guest stream as VsockE2E runs it: connect, write, half-close, read the echo to EOF. */
    static byte[] writeHalfCloseReadAll(VirtioVsock device, byte[] data) {
        try (VsockConnection c = device.connect(6000, WAIT)) {
            CompletableFuture<byte[]> echoed = CompletableFuture.supplyAsync(() -> readAllBytes(c), HOST_THREADS);
            c.write(data, 0, data.length);
            c.shutdownOutput();
            return echoed.get();
        } catch (IOException | InterruptedException | ExecutionException e) {
            throw new RuntimeException(e);
        }
    }

    @ParameterizedTest(name = "packed={0}")
    @ValueSource(booleans = {false, true})
    void parallelStreams_bothDirections_allEchoedIntact(boolean packed) throws Exception {
        GuestVsock guest = new GuestVsock(device, packed);
        guest.listen(7000, true);
        device.listen(6000, VirtioVsockTest::echo);
        int streams = 8;
        List<Stream> guestSide = new ArrayList<>();
        for (int i = 0; i < streams; i++) {
            Stream s = guest.connect(6000);
            s.write(pattern(40_000 + i, i));
            guestSide.add(s);
        }
        List<CompletableFuture<byte[]>> hostSide = new ArrayList<>();
        for (int i = 0; i < streams; i++) {
            int seed = 100 + i;
            hostSide.add(device.connectAsync(7000, WAIT).thenApplyAsync(c -> {
                try {
                    byte[] data = pattern(60_000 + seed, seed);
                    byte[] back = new byte[data.length];
                    c.write(data, 0, data.length);
                    int got = 0;
                    while (got < back.length) {
                        got += c.read(back, got, back.length - got);
                    }
                    c.close();
                    return back;
                } catch (IOException e) {
                    throw new RuntimeException(e);
                }
            }, HOST_THREADS));
        }
        assertTrue(guest.runUntil(() -> hostSide.stream().allMatch(CompletableFuture::isDone)
                && guestSide.stream().allMatch(s -> s.received.size() == s.sentCount && s.sentCount > 0
                && s.pendingOut.size() == 0), WAIT));
        for (int i = 0; i < streams; i++) {
            assertArrayEquals(pattern(60_000 + 100 + i, 100 + i), hostSide.get(i).get());
            assertArrayEquals(pattern(40_000 + i, i), guestSide.get(i).received.toByteArray());
        }
    }

    @Test
    void hostConnect_guestRefuses_connectExceptionAndNoConnectionLeft() {
        GuestVsock guest = new GuestVsock(device, false);
        CompletableFuture<VsockConnection> pending = device.connectAsync(99, WAIT);
        assertTrue(guest.runUntil(pending::isDone, WAIT));
        ExecutionException e = assertThrows(ExecutionException.class, pending::get);
        assertInstanceOf(ConnectException.class, e.getCause());
        assertEquals(0, device.connectionCount());
    }

    @Test
    void hostConnect_guestSilent_timesOutAndGuestGetsReset() {
        GuestVsock guest = new GuestVsock(device, false);
        guest.silent = true;
        CompletableFuture<VsockConnection> pending = device.connectAsync(1, Duration.ofMillis(100));
        guest.pump();
        Packet request = guest.packetsWithOp(OP_REQUEST).getFirst(); // the guest never answers it
        assertTrue(guest.runUntil(pending::isDone, WAIT));
        ExecutionException e = assertThrows(ExecutionException.class, pending::get);
        assertInstanceOf(SocketTimeoutException.class, e.getCause());
        assertTrue(guest.runUntil(() -> !guest.packetsWithOp(OP_RST).isEmpty(), WAIT));
        assertEquals(request.srcPort(), guest.packetsWithOp(OP_RST).getFirst().srcPort());
        assertEquals(0, device.connectionCount());
        assertEquals(1, device.metrics().get(Counter.CONNECT_TIMEOUTS));
    }

    @Test
    void hostConnect_blockingTimeout_throwsSocketTimeout() {
        new GuestVsock(device, false); // nobody pumps: the request is never even delivered
        assertThrows(SocketTimeoutException.class, () -> device.connect(5, Duration.ofMillis(50)));
    }

    @Test
    void hostToGuest_guestDoesNotConsume_stopsAtGuestCreditThenResumesAfterUpdate() throws Exception {
        GuestVsock guest = new GuestVsock(device, false);
        guest.listen(300, false);
        CompletableFuture<VsockConnection> pending = device.connectAsync(300, WAIT);
        assertTrue(guest.runUntil(pending::isDone, WAIT));
        VsockConnection c = pending.get();
        Stream s = guest.streams.values().iterator().next();
        s.consume = false;
        s.bufAlloc = 4096;
        s.send(OP_CREDIT_UPDATE, 0, new byte[0]);

        c.write(pattern(10_000, 1), 0, 10_000);
        assertTrue(guest.runUntil(() -> !guest.packetsWithOp(OP_CREDIT_REQUEST).isEmpty(), WAIT));
        assertEquals(4096, s.received.size(), "exactly the advertised credit, no more");

        s.forwardedCount += 4096;
        s.send(OP_CREDIT_UPDATE, 0, new byte[0]);
        assertTrue(guest.runUntil(() -> s.received.size() == 8192, WAIT));
        assertEquals(2, guest.packetsWithOp(OP_CREDIT_REQUEST).size(), "one request per stall, not per pass");
    }

    @Test
    void guestToHost_guestIgnoresCredit_connectionResetAndCounted() throws Exception {
        VirtioVsock small = new VirtioVsock(GuestVsock.CID, 4096, Runnable::run);
        GuestVsock guest = new GuestVsock(small, false);
        CompletableFuture<VsockConnection> accepted = new CompletableFuture<>();
        small.listen(80, accepted::complete);
        Stream s = guest.connect(80);
        assertTrue(guest.runUntil(() -> s.established, WAIT));
        assertEquals(4096, Integer.toUnsignedLong(guest.packetsWithOp(OP_RESPONSE).getFirst().bufAlloc()));

        s.send(OP_RW, 0, pattern(4000, 0));
        s.send(OP_RW, 0, pattern(200, 0)); // 4200 > 4096: the host never read, so no credit for it
        guest.pump();

        assertTrue(s.reset);
        assertEquals(1, small.metrics().rejections(VsockRejection.CREDIT_VIOLATION));
        VsockConnection c = accepted.get();
        byte[] buffer = new byte[8192];
        assertEquals(4000, c.read(buffer, 0, buffer.length), "data within credit is still readable");
        assertThrows(IOException.class, () -> c.read(buffer, 0, buffer.length));
    }

    @Test
    void guestToHost_hostReads_creditUpdateSentOncePastHalf() throws Exception {
        VirtioVsock small = new VirtioVsock(GuestVsock.CID, 8192, Runnable::run);
        GuestVsock guest = new GuestVsock(small, false);
        CompletableFuture<VsockConnection> accepted = new CompletableFuture<>();
        small.listen(80, accepted::complete);
        Stream s = guest.connect(80);
        assertTrue(guest.runUntil(() -> s.established, WAIT));
        s.write(pattern(20_000, 5));
        guest.pump();
        assertEquals(8192, s.sentCount, "guest stalls at the advertised window");

        VsockConnection c = accepted.get();
        byte[] all = new byte[20_000];
        int got = 0;
        while (got < all.length) {
            got += c.read(all, got, all.length - got);
            int expected = got;
            guest.runUntil(() -> s.sentCount == 20_000 || s.peerFwdCnt == expected, Duration.ofMillis(200));
        }
        assertArrayEquals(pattern(20_000, 5), all);
        assertFalse(guest.packetsWithOp(OP_CREDIT_UPDATE).isEmpty());
    }

    @Test
    void hostShutdownOutput_guestGetsDataThenShutdownSend() throws Exception {
        GuestVsock guest = new GuestVsock(device, true);
        guest.listen(22, false);
        CompletableFuture<VsockConnection> pending = device.connectAsync(22, WAIT);
        assertTrue(guest.runUntil(pending::isDone, WAIT));
        VsockConnection c = pending.get();
        c.write(pattern(100, 0), 0, 100);
        c.shutdownOutput();
        Stream s = guest.streams.values().iterator().next();
        assertTrue(guest.runUntil(() -> s.peerShutdownSend, WAIT));
        assertEquals(100, s.received.size(), "data before the SHUTDOWN");
        assertFalse(s.peerShutdownReceive, "half-close only");
        assertThrows(IOException.class, () -> c.write(new byte[1], 0, 1));

        s.write(pattern(10, 1));
        guest.pump();
        byte[] back = new byte[10];
        assertEquals(10, c.read(back, 0, 10), "the other direction still works");
    }

    @Test
    void guestShutdownSend_hostReadsEndOfStream() throws Exception {
        GuestVsock guest = new GuestVsock(device, false);
        CompletableFuture<VsockConnection> accepted = new CompletableFuture<>();
        device.listen(81, accepted::complete);
        Stream s = guest.connect(81);
        assertTrue(guest.runUntil(() -> s.established && accepted.isDone(), WAIT));
        s.write(pattern(50, 2));
        guest.pump();
        s.send(OP_SHUTDOWN, SHUTDOWN_SEND, new byte[0]);
        byte[] all = readAll(accepted.get()).get();
        assertArrayEquals(pattern(50, 2), all);
    }

    @Test
    void hostClose_guestGetsShutdownBothAndAnswersReset_connectionForgotten() throws Exception {
        GuestVsock guest = new GuestVsock(device, false);
        guest.listen(23, false);
        CompletableFuture<VsockConnection> pending = device.connectAsync(23, WAIT);
        assertTrue(guest.runUntil(pending::isDone, WAIT));
        pending.get().close();
        assertTrue(guest.runUntil(() -> device.connectionCount() == 0, WAIT));
        Packet shutdown = guest.packetsWithOp(OP_SHUTDOWN).getLast();
        assertEquals(SHUTDOWN_SEND | SHUTDOWN_RCV, shutdown.flags());
        assertFalse(pending.get().isOpen());
    }

    @Test
    void guestReset_hostReadFailsWithReset() throws Exception {
        GuestVsock guest = new GuestVsock(device, false);
        CompletableFuture<VsockConnection> accepted = new CompletableFuture<>();
        device.listen(82, accepted::complete);
        Stream s = guest.connect(82);
        assertTrue(guest.runUntil(() -> s.established && accepted.isDone(), WAIT));
        s.send(OP_RST, 0, new byte[0]);
        IOException e = assertThrows(IOException.class, () -> accepted.get().read(new byte[1], 0, 1));
        assertTrue(e.getMessage().contains("reset by the guest"), e.getMessage());
        assertEquals(0, device.connectionCount());
    }

    @Test
    void guestRequest_noListener_resetAndCounted() {
        GuestVsock guest = new GuestVsock(device, false);
        Stream s = guest.connect(4444);
        assertTrue(guest.runUntil(() -> s.reset, WAIT));
        assertEquals(1, device.metrics().rejections(VsockRejection.NO_LISTENER));
    }

    @Test
    void guestPacket_unknownConnection_answeredWithReset() {
        GuestVsock guest = new GuestVsock(device, true);
        guest.send(GuestVsock.CID, 2, 1000, 2000, TYPE_STREAM, OP_RW, 0, 4096, 0, pattern(10, 0));
        guest.pump();
        Packet rst = guest.packetsWithOp(OP_RST).getFirst();
        assertEquals(2000, rst.srcPort());
        assertEquals(1000, rst.dstPort());
        assertEquals(GuestVsock.CID, rst.dstCid());
        assertEquals(1, device.metrics().rejections(VsockRejection.UNKNOWN_CONNECTION));
    }

    @Test
    void guestReset_unknownConnection_notAnswered() {
        GuestVsock guest = new GuestVsock(device, false);
        guest.send(GuestVsock.CID, 2, 1000, 2000, TYPE_STREAM, OP_RST, 0, 0, 0, new byte[0]);
        guest.pump();
        assertTrue(guest.received.isEmpty());
    }

    @Test
    void guestRequests_beyondConnectionLimit_resetAndCounted() {
        GuestVsock guest = new GuestVsock(device, false);
        device.listen(90, c -> { });
        for (int i = 0; i <= VirtioVsock.MAX_CONNECTIONS; i++) {
            guest.connect(90);
            guest.pump();
        }
        assertEquals(VirtioVsock.MAX_CONNECTIONS, device.connectionCount());
        assertEquals(1, device.metrics().rejections(VsockRejection.CONNECTION_LIMIT));
        assertEquals(1, guest.packetsWithOp(OP_RST).size());
    }

    @Test
    void guestRequest_duplicatePair_resetsTheConnection() {
        GuestVsock guest = new GuestVsock(device, false);
        device.listen(91, c -> { });
        Stream s = guest.connect(91);
        assertTrue(guest.runUntil(() -> s.established, WAIT));
        s.send(OP_REQUEST, 0, new byte[0]);
        assertTrue(guest.runUntil(() -> s.reset, WAIT));
        assertEquals(1, device.metrics().rejections(VsockRejection.DUPLICATE_REQUEST));
        assertEquals(0, device.connectionCount());
    }

    @Test
    void guestRw_beforeEstablished_unexpectedOpReset() {
        GuestVsock guest = new GuestVsock(device, false);
        guest.listen(5, false);
        CompletableFuture<VsockConnection> pending = device.connectAsync(5, WAIT);
        guest.pump(); // guest answers RESPONSE here; send a second RESPONSE afterwards
        Packet request = guest.packetsWithOp(OP_REQUEST).getFirst();
        guest.send(GuestVsock.CID, 2, 5, request.srcPort(), TYPE_STREAM, OP_RESPONSE, 0, 4096, 0, new byte[0]);
        guest.pump();
        assertEquals(1, device.metrics().rejections(VsockRejection.UNEXPECTED_OP));
        // The future completes on the callback executor, not on this thread: wait for it.
        assertTrue(guest.runUntil(pending::isDone, WAIT));
    }

    @Test
    void rxBuffer_tooSmallForHeader_returnedUnusedAndCounted() {
        GuestVsock guest = new GuestVsock(device, false, 0);
        guest.rx.add(0x200000, 16, true);
        guest.send(GuestVsock.CID, 2, 1, 2, TYPE_STREAM, OP_RW, 0, 0, 0, new byte[1]);
        assertTrue(guest.rx.pollUsed());
        assertEquals(0, guest.rx.lastUsedLength());
        assertEquals(1, device.metrics().rejections(VsockRejection.RX_BUFFER_TOO_SMALL));
    }

    @Test
    void deviceReset_openConnectionsFailOnHost() throws Exception {
        GuestVsock guest = new GuestVsock(device, false);
        guest.listen(8, false);
        CompletableFuture<VsockConnection> pending = device.connectAsync(8, WAIT);
        assertTrue(guest.runUntil(pending::isDone, WAIT));
        guest.mmio.write(MmioDriver.STATUS, 0);
        IOException e = assertThrows(IOException.class, () -> pending.get().read(new byte[1], 0, 1));
        assertTrue(e.getMessage().contains("reset the vsock device"), e.getMessage());
    }

    @Test
    void readyListener_firesWhenGuestDataArrives() throws Exception {
        GuestVsock guest = new GuestVsock(device, false);
        CompletableFuture<VsockConnection> accepted = new CompletableFuture<>();
        device.listen(83, accepted::complete);
        Stream s = guest.connect(83);
        assertTrue(guest.runUntil(() -> s.established && accepted.isDone(), WAIT));
        VsockConnection c = accepted.get();
        ConcurrentLinkedQueue<Integer> seen = new ConcurrentLinkedQueue<>();
        byte[] buffer = new byte[64];
        c.setReadyListener(() -> {
            try {
                int n = c.tryRead(buffer, 0, buffer.length);
                if (n > 0) {
                    seen.add(n);
                }
            } catch (IOException ignored) {
                // closed
            }
        });
        s.write(pattern(20, 0));
        assertTrue(guest.runUntil(() -> seen.stream().mapToInt(Integer::intValue).sum() == 20, WAIT));
        assertEquals(0, c.tryRead(buffer, 0, buffer.length), "non-blocking read returns 0 when empty");
    }

    // ------------------------------------------------------------------ malformed packets

    @Test
    void malformed_shortHeader_droppedWithoutReply() {
        GuestVsock guest = new GuestVsock(device, false);
        guest.sendRawChain(GuestDriverBuffers.readable(GuestVsock.TX_HEADER, 20));
        guest.pump();
        assertEquals(1, device.metrics().rejections(VsockRejection.SHORT_HEADER));
        assertTrue(guest.received.isEmpty());
    }

    @Test
    void malformed_wrongSourceCid_droppedWithoutReply() {
        GuestVsock guest = new GuestVsock(device, false);
        guest.send(7, 2, 1, 2, TYPE_STREAM, OP_REQUEST, 0, 0, 0, new byte[0]);
        guest.pump();
        assertEquals(1, device.metrics().rejections(VsockRejection.WRONG_SOURCE_CID));
        assertTrue(guest.received.isEmpty());
    }

    @Test
    void malformed_wrongDestinationCid_droppedWithoutReply() {
        GuestVsock guest = new GuestVsock(device, false);
        guest.send(GuestVsock.CID, 3, 1, 2, TYPE_STREAM, OP_REQUEST, 0, 0, 0, new byte[0]);
        guest.pump();
        assertEquals(1, device.metrics().rejections(VsockRejection.WRONG_DESTINATION_CID));
        assertTrue(guest.received.isEmpty());
    }

    @Test
    void malformed_unknownType_reset() {
        assertRejectedWithReset(VsockRejection.UNKNOWN_TYPE, h -> h.type = 2, 0);
    }

    @Test
    void malformed_unknownOp_reset() {
        assertRejectedWithReset(VsockRejection.UNKNOWN_OP, h -> h.op = 9, 0);
    }

    @Test
    void malformed_invalidOpZero_reset() {
        assertRejectedWithReset(VsockRejection.UNKNOWN_OP, h -> h.op = OP_INVALID, 0);
    }

    @Test
    void malformed_lengthBeyondBuffer_reset() {
        assertRejectedWithReset(VsockRejection.PAYLOAD_TRUNCATED, h -> h.len = 100, 50);
    }

    @Test
    void malformed_lengthAboveMaximum_reset() {
        assertRejectedWithReset(VsockRejection.PAYLOAD_TOO_LARGE, h -> h.len = 0xffff_ffffL, 50);
    }

    @Test
    void malformed_payloadOnControlPacket_reset() {
        assertRejectedWithReset(VsockRejection.PAYLOAD_ON_CONTROL_PACKET, h -> {
            h.op = OP_CREDIT_UPDATE;
            h.len = 10;
        }, 10);
    }

    @Test
    void malformed_unknownShutdownFlags_reset() {
        assertRejectedWithReset(VsockRejection.UNKNOWN_SHUTDOWN_FLAGS, h -> {
            h.op = OP_SHUTDOWN;
            h.flags = 4;
        }, 0);
    }

    @Test
    void malformed_onOpenConnection_resetsItForTheHostToo() throws Exception {
        GuestVsock guest = new GuestVsock(device, false);
        CompletableFuture<VsockConnection> accepted = new CompletableFuture<>();
        device.listen(84, accepted::complete);
        Stream s = guest.connect(84);
        assertTrue(guest.runUntil(() -> s.established && accepted.isDone(), WAIT));
        VsockHeader h = header(s.guestPort, 84);
        h.op = 42;
        guest.sendHeader(h, new byte[0], 0);
        assertTrue(guest.runUntil(() -> s.reset, WAIT));
        assertThrows(IOException.class, () -> accepted.get().read(new byte[1], 0, 1));
    }

    @Test
    void malformed_floodWithoutRxBuffers_resetRepliesBounded() {
        GuestVsock guest = new GuestVsock(device, false, 0);
        for (int i = 0; i < VirtioVsock.MAX_PENDING_RESETS + 10; i++) {
            guest.send(GuestVsock.CID, 2, i, 1, TYPE_STREAM, OP_RW, 0, 0, 0, new byte[0]);
        }
        assertEquals(10, device.metrics().get(Counter.RESETS_DROPPED));
    }

    private static VsockHeader header(long srcPort, long dstPort) {
        VsockHeader h = new VsockHeader();
        h.srcCid = GuestVsock.CID;
        h.dstCid = HOST_CID;
        h.srcPort = srcPort;
        h.dstPort = dstPort;
        h.type = TYPE_STREAM;
        h.op = OP_RW;
        h.bufAlloc = 4096;
        return h;
    }

    private void assertRejectedWithReset(VsockRejection reason, java.util.function.Consumer<VsockHeader> corrupt, int payload) {
        for (boolean packed : new boolean[] {false, true}) {
            VirtioVsock fresh = new VirtioVsock(GuestVsock.CID);
            GuestVsock guest = new GuestVsock(fresh, packed);
            VsockHeader h = header(1111, 2222);
            corrupt.accept(h);
            guest.sendHeader(h, new byte[Math.max(payload, 1)], payload);
            guest.pump();
            assertEquals(1, fresh.metrics().rejections(reason), reason + " counted, packed=" + packed);
            Packet rst = guest.packetsWithOp(OP_RST).getFirst();
            assertEquals(1111, rst.dstPort());
            assertEquals(2222, rst.srcPort());
            assertEquals(1, guest.received.size());
        }
    }

    /** Keeps the raw-chain test readable. */
    static final class GuestDriverBuffers {
        static dev.flotilla.vmm.devices.virtio.testing.GuestDriver.Buffer readable(long address, int length) {
            return dev.flotilla.vmm.devices.virtio.testing.GuestDriver.Buffer.readable(address, length);
        }
    }

    static byte[] concat(byte[]... parts) {
        return Arrays.stream(parts).reduce(new byte[0], (a, b) -> {
            byte[] r = Arrays.copyOf(a, a.length + b.length);
            System.arraycopy(b, 0, r, a.length, b.length);
            return r;
        });
    }
}
