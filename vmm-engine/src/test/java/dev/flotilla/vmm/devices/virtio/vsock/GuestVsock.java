package dev.flotilla.vmm.devices.virtio.vsock;

import dev.flotilla.vmm.devices.virtio.VirtioFeatures;
import dev.flotilla.vmm.devices.virtio.mmio.MmioTransport;
import dev.flotilla.vmm.devices.virtio.testing.GuestDriver;
import dev.flotilla.vmm.devices.virtio.testing.GuestDriver.Buffer;
import dev.flotilla.vmm.devices.virtio.testing.MmioDriver;
import dev.flotilla.vmm.testing.RecordingIrqLine;
import dev.flotilla.vmm.memory.GuestMemory;
import dev.flotilla.vmm.memory.SegmentGuestMemory;

import java.io.ByteArrayOutputStream;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.Semaphore;
import java.util.concurrent.TimeUnit;
import java.util.function.BooleanSupplier;

import static dev.flotilla.vmm.devices.virtio.VirtioFeatures.bit;

/**
 * The guest side of a vsock device for tests: a virtio driver over the mock rings (rx buffers laid
 * out as Linux 6.1 does, header and payload in separate descriptors) plus a minimal stream stack
 * (listening ports that echo, guest-initiated connections, credit accounting). The test thread
 * plays the VM's event loop: {@link #pump} processes the device, and the device's wakeup hook
 * only releases a semaphore that {@link #runUntil} waits on.
 */
final class GuestVsock {

    static final long CID = 42;
    static final int RING = 64;
    static final int RX_PAYLOAD = 4096;
    static final long RX_AREA = 0x100000;
    static final long TX_HEADER = 0x300000;
    static final long TX_PAYLOAD = 0x301000;

    /** A packet as the guest received it. */
    record Packet(long srcCid, long dstCid, long srcPort, long dstPort, int op, int flags, int bufAlloc, int fwdCnt, byte[] data) {
        boolean is(int op) {
            return this.op == op;
        }
    }

    /** One guest-side stream. */
    final class Stream {
        final long guestPort;
        final long hostPort;
        boolean established;
        boolean reset;
        boolean peerShutdownSend;
        boolean peerShutdownReceive;
        boolean echo;
        /** When false the guest does not consume what it receives (credit stays used). */
        boolean consume = true;
        /**
         * With echo: how many echoed bytes may wait for host credit before the guest stops
         * consuming, as a blocking {@code read; write} echo does (0: unbounded, consume at once).
         */
        int echoWindow;
        /** Received but not consumed yet because the echo is full (echoWindow). */
        final ByteArrayOutputStream unconsumed = new ByteArrayOutputStream();
        /** With echo: answer the host's SHUTDOWN SEND with our own once everything was echoed. */
        boolean shutdownSent;
        int bufAlloc = 64 * 1024;
        final ByteArrayOutputStream received = new ByteArrayOutputStream();
        final ByteArrayOutputStream pendingOut = new ByteArrayOutputStream();
        int receivedCount;
        int forwardedCount;
        int sentCount;
        int peerBufAlloc;
        int peerFwdCnt;

        Stream(long guestPort, long hostPort) {
            this.guestPort = guestPort;
            this.hostPort = hostPort;
        }

        long peerCredit() {
            return Integer.toUnsignedLong(peerBufAlloc) - Integer.toUnsignedLong(sentCount - peerFwdCnt);
        }

        void write(byte[] data) {
            pendingOut.writeBytes(data);
        }

        void send(int op, int flags, byte[] data) {
            GuestVsock.this.send(CID, 2, guestPort, hostPort, VsockHeader.TYPE_STREAM, op, flags, bufAlloc, forwardedCount, data);
        }
    }

    final GuestMemory memory = SegmentGuestMemory.ofHeap(4 << 20);
    final VirtioVsock device;
    final MmioTransport transport;
    final MmioDriver mmio;
    final GuestDriver rx;
    final GuestDriver tx;
    final GuestDriver event;
    final Semaphore wakeups = new Semaphore(0);
    final Map<Integer, Long> rxSlots = new HashMap<>();
    final List<Packet> received = new ArrayList<>();
    final Map<Long, Boolean> listeningPorts = new HashMap<>();
    final Map<String, Stream> streams = new HashMap<>();
    /** When set, the guest ignores connection requests (to test host-side connect timeouts). */
    boolean silent;
    /** {@link Stream#echoWindow} of the echo streams accepted from now on (0: unbounded). */
    int echoWindow;
    private final boolean packed;
    private int rxSlotCounter;
    private long nextGuestPort = 10_000;

    GuestVsock(VirtioVsock device, boolean packed) {
        this(device, packed, RING / 2); // two descriptors per rx buffer
    }

    GuestVsock(VirtioVsock device, boolean packed, int rxBuffers) {
        this.device = device;
        this.packed = packed;
        this.transport = new MmioTransport(device, memory, new RecordingIrqLine(), "vsock0");
        this.mmio = new MmioDriver(transport);
        device.setWakeup(wakeups::release);
        long features = bit(VirtioFeatures.VERSION_1) | bit(VirtioFeatures.EVENT_IDX) | (packed ? bit(VirtioFeatures.RING_PACKED) : 0);
        if (!mmio.negotiate(features)) {
            throw new IllegalStateException("feature negotiation failed");
        }
        rx = ring(0x1000);
        tx = ring(0x8000);
        event = ring(0xf000);
        mmio.setupQueue(0, rx);
        mmio.setupQueue(1, tx);
        mmio.setupQueue(2, event);
        mmio.driverOk();
        for (int i = 0; i < rxBuffers; i++) {
            postRx(RX_AREA + (long) i * 0x2000);
        }
        event.add(0xe000, 4, true);
    }

    private GuestDriver ring(long base) {
        return packed ? GuestDriver.packed(memory, base, RING, true) : GuestDriver.split(memory, base, RING, true);
    }

    private void postRx(long slot) {
        int id = rx.add(Buffer.writable(slot, VsockHeader.SIZE), Buffer.writable(slot + 0x100, RX_PAYLOAD));
        rxSlots.put(id, slot);
    }

    // ------------------------------------------------------------------ raw packets

    void send(long srcCid, long dstCid, long srcPort, long dstPort, int type, int op, int flags, int bufAlloc, int fwdCnt, byte[] data) {
        VsockHeader h = new VsockHeader();
        h.srcCid = srcCid;
        h.dstCid = dstCid;
        h.srcPort = srcPort;
        h.dstPort = dstPort;
        h.len = data.length;
        h.type = type;
        h.op = op;
        h.flags = flags;
        h.bufAlloc = bufAlloc;
        h.fwdCnt = fwdCnt;
        sendHeader(h, data, data.length);
    }

    /** Sends a header with any {@code len} field and {@code readablePayload} bytes actually attached. */
    void sendHeader(VsockHeader h, byte[] data, int readablePayload) {
        byte[] bytes = new byte[VsockHeader.SIZE];
        h.encode(bytes, 0);
        memory.write(TX_HEADER, bytes, 0, bytes.length);
        if (readablePayload > 0) {
            memory.write(TX_PAYLOAD, data, 0, Math.min(data.length, readablePayload));
            tx.add(Buffer.readable(TX_HEADER, VsockHeader.SIZE), Buffer.readable(TX_PAYLOAD, readablePayload));
        } else {
            tx.add(Buffer.readable(TX_HEADER, VsockHeader.SIZE));
        }
        kickTx();
    }

    void sendRawChain(Buffer... buffers) {
        tx.add(buffers);
        kickTx();
    }

    private void kickTx() {
        transport.processQueueNotification(VirtioVsock.TX_QUEUE);
        while (tx.pollUsed()) {
            // tx buffers come back at once; the device copied what it needed
        }
    }

    /** One event-loop pass for host-side work, then the guest reads its rx ring. */
    void pump() {
        transport.processQueueNotification(VirtioVsock.RX_QUEUE);
        while (collectRx()) {
            // replies may have produced more packets for the guest
        }
    }

    private boolean collectRx() {
        List<Packet> batch = new ArrayList<>();
        while (rx.pollUsed()) {
            long slot = rxSlots.remove(rx.lastUsedId());
            int length = rx.lastUsedLength();
            if (length >= VsockHeader.SIZE) {
                byte[] hb = new byte[VsockHeader.SIZE];
                memory.read(slot, hb, 0, hb.length);
                VsockHeader h = new VsockHeader().decode(hb, 0);
                byte[] data = new byte[length - VsockHeader.SIZE];
                memory.read(slot + 0x100, data, 0, data.length);
                batch.add(new Packet(h.srcCid, h.dstCid, h.srcPort, h.dstPort, h.op, (int) h.flags, h.bufAlloc, h.fwdCnt, data));
            }
            postRx(slot);
        }
        received.addAll(batch);
        for (Packet p : batch) {
            handle(p);
        }
        return flushStreams() | !batch.isEmpty();
    }

    // ------------------------------------------------------------------ the guest stack

    void listen(long port, boolean echo) {
        listeningPorts.put(port, echo);
    }

    Stream stream(long guestPort, long hostPort) {
        return streams.get(guestPort + ":" + hostPort);
    }

    /** Opens a guest-initiated stream to host port {@code hostPort}; established after the device answers. */
    Stream connect(long hostPort) {
        Stream s = new Stream(nextGuestPort++, hostPort);
        streams.put(s.guestPort + ":" + hostPort, s);
        s.send(VsockHeader.OP_REQUEST, 0, new byte[0]);
        return s;
    }

    private void handle(Packet p) {
        Stream s = stream(p.dstPort(), p.srcPort());
        if (p.is(VsockHeader.OP_REQUEST)) {
            if (silent) {
                return;
            }
            Boolean echo = listeningPorts.get(p.dstPort());
            if (echo == null || s != null) {
                send(CID, 2, p.dstPort(), p.srcPort(), VsockHeader.TYPE_STREAM, VsockHeader.OP_RST, 0, 0, 0, new byte[0]);
                return;
            }
            s = new Stream(p.dstPort(), p.srcPort());
            s.echo = echo;
            s.echoWindow = echo ? echoWindow : 0;
            s.established = true;
            streams.put(p.dstPort() + ":" + p.srcPort(), s);
            s.peerBufAlloc = p.bufAlloc();
            s.peerFwdCnt = p.fwdCnt();
            s.send(VsockHeader.OP_RESPONSE, 0, new byte[0]);
            return;
        }
        if (s == null) {
            return; // packets for streams the test did not track (e.g. RST replies)
        }
        s.peerBufAlloc = p.bufAlloc();
        s.peerFwdCnt = p.fwdCnt();
        switch (p.op()) {
            case VsockHeader.OP_RESPONSE -> s.established = true;
            case VsockHeader.OP_RST -> s.reset = true;
            case VsockHeader.OP_SHUTDOWN -> {
                s.peerShutdownSend |= (p.flags() & VsockHeader.SHUTDOWN_SEND) != 0;
                s.peerShutdownReceive |= (p.flags() & VsockHeader.SHUTDOWN_RCV) != 0;
                if (s.peerShutdownSend && s.peerShutdownReceive) {
                    s.send(VsockHeader.OP_RST, 0, new byte[0]);
                    s.reset = true;
                }
            }
            case VsockHeader.OP_RW -> {
                s.received.writeBytes(p.data());
                s.receivedCount += p.data().length;
                if (s.echo && s.echoWindow > 0) {
                    s.unconsumed.writeBytes(p.data()); // consumed as the echo window frees
                } else {
                    if (s.consume) {
                        s.forwardedCount += p.data().length;
                    }
                    if (s.echo) {
                        s.pendingOut.writeBytes(p.data());
                    }
                }
            }
            case VsockHeader.OP_CREDIT_REQUEST -> s.send(VsockHeader.OP_CREDIT_UPDATE, 0, new byte[0]);
            default -> { }
        }
    }

    /** Sends what streams have queued, as far as the host's credit allows. */
    private boolean flushStreams() {
        boolean sent = false;
        for (Stream s : new ArrayList<>(streams.values())) {
            if (!s.established || s.reset) {
                continue;
            }
            sent |= consumeIntoEcho(s);
            if (s.pendingOut.size() == 0) {
                continue;
            }
            byte[] all = s.pendingOut.toByteArray();
            int offset = 0;
            while (offset < all.length) {
                int n = (int) Math.min(Math.min(all.length - offset, s.peerCredit()), RX_PAYLOAD);
                if (n <= 0) {
                    break;
                }
                byte[] chunk = java.util.Arrays.copyOfRange(all, offset, offset + n);
                s.sentCount += n;
                offset += n;
                s.send(VsockHeader.OP_RW, 0, chunk);
                sent = true;
            }
            s.pendingOut.reset();
            s.pendingOut.write(all, offset, all.length - offset);
            sent |= consumeIntoEcho(s);
        }
        return sent;
    }

    /**
     * A windowed echo consumes what fits its window (freeing guest credit, reported with the next
     * packet or a CREDIT_UPDATE) and half-closes once the host did and everything went back.
     */
    private boolean consumeIntoEcho(Stream s) {
        if (!s.echo || s.echoWindow == 0) {
            return false;
        }
        byte[] waiting = s.unconsumed.toByteArray();
        int n = Math.min(waiting.length, s.echoWindow - s.pendingOut.size());
        if (n > 0) {
            s.pendingOut.write(waiting, 0, n);
            s.unconsumed.reset();
            s.unconsumed.write(waiting, n, waiting.length - n);
            s.forwardedCount += n;
            if (s.peerCredit() == 0) {
                s.send(VsockHeader.OP_CREDIT_UPDATE, 0, new byte[0]); // no data packet will carry it
                return true;
            }
        }
        if (s.peerShutdownSend && !s.shutdownSent && s.unconsumed.size() == 0 && s.pendingOut.size() == 0) {
            s.shutdownSent = true;
            s.send(VsockHeader.OP_SHUTDOWN, VsockHeader.SHUTDOWN_SEND, new byte[0]);
            return true;
        }
        return false;
    }

    /** Plays the event loop until {@code done} holds; false on timeout. */
    boolean runUntil(BooleanSupplier done, Duration timeout) {
        long deadline = System.nanoTime() + timeout.toNanos();
        while (System.nanoTime() < deadline) {
            pump();
            if (done.getAsBoolean()) {
                return true;
            }
            try {
                wakeups.tryAcquire(2, TimeUnit.MILLISECONDS);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                return false;
            }
        }
        return done.getAsBoolean();
    }

    List<Packet> packetsWithOp(int op) {
        return received.stream().filter(p -> p.is(op)).toList();
    }
}
