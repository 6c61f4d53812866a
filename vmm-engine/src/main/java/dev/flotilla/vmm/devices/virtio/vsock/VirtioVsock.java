package dev.flotilla.vmm.devices.virtio.vsock;

import dev.flotilla.vmm.logging.RateLimitedLog;
import dev.flotilla.vmm.devices.virtio.VirtioDevice;
import dev.flotilla.vmm.devices.virtio.VirtioFeatures;
import dev.flotilla.vmm.devices.virtio.VirtioInterrupt;
import dev.flotilla.vmm.devices.virtio.queue.DescriptorChain;
import dev.flotilla.vmm.devices.virtio.queue.Virtqueue;
import dev.flotilla.vmm.devices.virtio.vsock.VsockConnection.State;
import dev.flotilla.vmm.devices.virtio.vsock.VsockMetrics.Counter;
import dev.flotilla.vmm.memory.GuestMemory;
import dev.flotilla.vmm.memory.GuestMemoryException;

import java.io.IOException;
import java.net.ConnectException;
import java.net.SocketTimeoutException;
import java.time.Duration;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.List;
import java.util.Objects;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionException;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.Executor;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import java.util.function.Consumer;

/**
 * virtio-vsock, the socket device (virtio 1.2 §5.10), with its host end in this JVM
 * ({@link VsockHost}). Three queues: rx (device → driver packets), tx (driver → device packets),
 * event (transport events; held, never used: there is no live migration to announce).
 * Stream sockets only; no device feature bits.
 *
 * <p>All protocol work happens in {@link #processQueue}, on the VM's event loop. Host threads
 * never touch the queues: they change a connection's buffers and flags, put it on a concurrent
 * service list and call the {@link #setWakeup wakeup hook}, which the event loop implements by
 * running {@code processQueueNotification(RX_QUEUE)} on itself. See the package notes for the
 * connection state machine.
 */
public final class VirtioVsock implements VirtioDevice, VsockHost, AutoCloseable {

    /** §5.10.1: Device ID 19. */
    public static final int DEVICE_TYPE = 19;
    public static final int RX_QUEUE = 0;
    public static final int TX_QUEUE = 1;
    public static final int EVENT_QUEUE = 2;
    public static final int QUEUE_SIZE = 256;
    /** §5.10.4: CIDs 0-2 are reserved (hypervisor, local, host); 0xffffffff is VMADDR_CID_ANY. */
    public static final long MIN_GUEST_CID = 3;

    /**
     * Connections per VM. A guest can only open connections to ports the host listens on, but it
     * can open many: each costs two buffers of up to {@link #DEFAULT_BUFFER_SIZE} once full, so
     * 256 connections bound a flooding guest to 64 MiB of host heap. REQUESTs beyond it get RST.
     */
    public static final int MAX_CONNECTIONS = 256;
    /**
     * Per-direction buffer of one connection: the receive side is the buf_alloc advertised to the
     * guest, the send side bounds what host writers queue before blocking. 128 KiB keeps a 64 KiB
     * packet in flight while the other half is read.
     */
    public static final int DEFAULT_BUFFER_SIZE = 128 * 1024;
    /**
     * RST replies waiting for an rx buffer. Guest-triggered (one per bad packet), so bounded: a
     * guest that floods bad packets without posting rx buffers just loses the surplus replies.
     */
    static final int MAX_PENDING_RESETS = 256;
    /** After host close, how long the guest gets to answer SHUTDOWN with RST (Linux waits 8 s itself). */
    static final Duration CLOSE_TIMEOUT = Duration.ofSeconds(8);
    /** Host-initiated connections take local ports from here up, like Firecracker, above the usual range. */
    static final long FIRST_EPHEMERAL_PORT = 1L << 30;

    private static final RateLimitedLog LOG = RateLimitedLog.forClass(VirtioVsock.class);

    private final long guestCid;
    private final int bufferSize;
    private final VsockMetrics metrics = new VsockMetrics();
    private final Executor callbacks;
    private volatile Runnable wakeup = () -> { };

    // --- shared with host threads (concurrent) ---
    private final ConcurrentLinkedQueue<VsockConnection> newConnections = new ConcurrentLinkedQueue<>();
    private final ConcurrentLinkedQueue<VsockConnection> serviceRequests = new ConcurrentLinkedQueue<>();
    private final ConcurrentHashMap<Long, Consumer<VsockConnection>> listeners = new ConcurrentHashMap<>();
    private volatile UnboundPortAcceptor unboundPortAcceptor;
    /** Set by {@link #close()}: the VM is gone, new connections fail at once. */
    private volatile boolean closed;

    // --- event-loop only (called with the transport's lock held) ---
    private final LongKeyMap<VsockConnection> connections = new LongKeyMap<>();
    private final ArrayDeque<VsockConnection> outbound = new ArrayDeque<>();
    private final long[] resetHostPorts = new long[MAX_PENDING_RESETS];
    private final long[] resetGuestPorts = new long[MAX_PENDING_RESETS];
    private int resetHead;
    private int resetCount;
    private long nextEphemeralPort = FIRST_EPHEMERAL_PORT;
    private final VsockHeader header = new VsockHeader();
    private final byte[] headerBytes = new byte[VsockHeader.SIZE];
    private final VsockHeader outHeader = new VsockHeader();
    /** An rx chain popped and not yet filled (the queue's reusable chain), or null. */
    private DescriptorChain heldRx;

    private Virtqueue rxQueue;
    private Virtqueue txQueue;
    private GuestMemory memory;
    private VirtioInterrupt interrupt;

    public VirtioVsock(long guestCid) {
        this(guestCid, DEFAULT_BUFFER_SIZE, task -> Thread.ofVirtual().name("vsock-callback").start(task));
    }

    /**
     * @param bufferSize per-connection buffer in each direction (the buf_alloc the guest sees)
     * @param callbacks  where listener handlers, acceptors and ready listeners run; never the event loop
     */
    public VirtioVsock(long guestCid, int bufferSize, Executor callbacks) {
        if (guestCid < MIN_GUEST_CID || guestCid >= 0xffff_ffffL) {
            throw new IllegalArgumentException(
                    "guest CID %d is reserved or out of range: use %d..4294967294".formatted(guestCid, MIN_GUEST_CID));
        }
        if (bufferSize < 4096) {
            throw new IllegalArgumentException("vsock buffer size %d is below 4096 bytes".formatted(bufferSize));
        }
        this.guestCid = guestCid;
        this.bufferSize = bufferSize;
        this.callbacks = Objects.requireNonNull(callbacks);
    }

    /**
     * How host threads get the event loop to run this device: the wiring signals an eventfd
     * whose handler calls {@code transport.processQueueNotification(RX_QUEUE)}. Called from host
     * threads with no lock held; must not block.
     */
    public void setWakeup(Runnable wakeup) {
        this.wakeup = Objects.requireNonNull(wakeup);
    }

    /** Decides about guest connections to ports nobody listens on (the Unix bridge's forwarding). */
    public void setUnboundPortAcceptor(UnboundPortAcceptor acceptor) {
        this.unboundPortAcceptor = acceptor;
    }

    public VsockMetrics metrics() {
        return metrics;
    }

    Executor callbacks() {
        return callbacks;
    }

    // ================================================================== VsockHost

    @Override
    public long guestCid() {
        return guestCid;
    }

    @Override
    public VsockConnection connect(long guestPort, Duration timeout) throws IOException {
        try {
            return connectAsync(guestPort, timeout).get();
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new java.io.InterruptedIOException("interrupted while connecting to guest port " + guestPort);
        } catch (ExecutionException e) {
            if (e.getCause() instanceof IOException io) {
                throw io;
            }
            throw new IOException("connecting to guest port %d failed".formatted(guestPort), e.getCause());
        }
    }

    @Override
    public CompletableFuture<VsockConnection> connectAsync(long guestPort, Duration timeout) {
        checkPort(guestPort);
        if (closed) {
            return CompletableFuture.failedFuture(new ConnectException(
                    "cannot connect to guest CID %d port %d: the VM was closed".formatted(guestCid, guestPort)));
        }
        VsockConnection connection = new VsockConnection(this, 0, guestPort, true, State.CONNECTING, bufferSize, bufferSize);
        CompletableFuture<VsockConnection> result = new CompletableFuture<>();
        connection.established.whenComplete((c, error) -> {
            if (error == null) {
                result.complete(c);
            } else {
                result.completeExceptionally(error instanceof CompletionException ce ? ce.getCause() : error);
            }
        });
        CompletableFuture.delayedExecutor(timeout.toNanos(), TimeUnit.NANOSECONDS, callbacks).execute(() -> {
            if (!connection.established.isDone()) {
                metrics.increment(Counter.CONNECT_TIMEOUTS);
                connection.established.completeExceptionally(new SocketTimeoutException(
                        "guest CID %d port %d did not answer the connection request within %d ms"
                                .formatted(guestCid, guestPort, timeout.toMillis())));
                connection.abort("connect timed out");
            }
        });
        newConnections.add(connection);
        wakeup.run();
        return result;
    }

    @Override
    public AutoCloseable listen(long hostPort, Consumer<VsockConnection> handler) {
        checkPort(hostPort);
        Objects.requireNonNull(handler);
        if (listeners.putIfAbsent(hostPort, handler) != null) {
            throw new IllegalStateException("host vsock port %d already has a listener".formatted(hostPort));
        }
        return () -> listeners.remove(hostPort, handler);
    }

    private static void checkPort(long port) {
        if (port < 0 || port >= 0xffff_ffffL) {
            throw new IllegalArgumentException("vsock port %d is outside 0..4294967294".formatted(port));
        }
    }

    /** A host thread changed {@code connection}: queue it for the event loop and wake it. */
    void requestService(VsockConnection connection) {
        if (connection.queuedForService.compareAndSet(false, true)) {
            serviceRequests.add(connection);
            wakeup.run();
        }
    }

    void scheduleCloseTimeout(VsockConnection connection) {
        CompletableFuture.delayedExecutor(CLOSE_TIMEOUT.toNanos(), TimeUnit.NANOSECONDS, callbacks).execute(() -> {
            boolean stillOpen;
            synchronized (connection) {
                stillOpen = connection.state != State.CLOSED;
                if (stillOpen) {
                    connection.resetPending = true;
                }
            }
            if (stillOpen) {
                requestService(connection);
            }
        });
    }

    // ================================================================== VirtioDevice

    @Override
    public int deviceType() {
        return DEVICE_TYPE;
    }

    @Override
    public long offeredFeatures() {
        // Stream only: VIRTIO_VSOCK_F_SEQPACKET (bit 1) is not offered.
        return VirtioFeatures.QUEUE_FEATURES;
    }

    @Override
    public int queueCount() {
        return 3;
    }

    @Override
    public int queueMaxSize(int index) {
        return QUEUE_SIZE;
    }

    @Override
    public int configSize() {
        return 8;
    }

    @Override
    public long readConfig(int offset, int size) {
        // §5.10.4: le64 guest_cid; any aligned part of it may be read.
        if (offset < 0 || offset + size > 8) {
            return 0;
        }
        long value = guestCid >>> (offset * 8);
        return size == 8 ? value : value & ((1L << (size * 8)) - 1);
    }

    @Override
    public void writeConfig(int offset, int size, long value) {
        // §5.10.4: read-only.
    }

    @Override
    public void activate(List<Virtqueue> queues, long negotiatedFeatures, GuestMemory memory, VirtioInterrupt interrupt) {
        this.rxQueue = queues.get(RX_QUEUE);
        this.txQueue = queues.get(TX_QUEUE);
        this.memory = memory;
        this.interrupt = interrupt;
        this.heldRx = null;
    }

    @Override
    public void processQueue(int index) {
        if (rxQueue == null || txQueue == null) {
            return;
        }
        if (index == TX_QUEUE) {
            drainTx();
        }
        takeHostRequests();
        fillRx();
        boolean notify = rxQueue.finishBatch();
        notify |= txQueue.finishBatch();
        if (notify) {
            interrupt.signalUsedBuffers();
        }
    }

    @Override
    public void reset() {
        for (VsockConnection connection : connections.values()) {
            terminate(connection, "the guest driver reset the vsock device");
        }
        connections.clear();
        for (VsockConnection connection : outbound) {
            connection.inOutbound = false;
        }
        outbound.clear();
        resetCount = 0;
        heldRx = null;
        rxQueue = null;
        txQueue = null;
        memory = null;
        interrupt = null;
    }

    /**
     * The VM is gone: every connection ends with an error (blocked readers and writers wake up),
     * pending connects fail, listeners are dropped and later connects fail at once. Call only once
     * the event loop no longer runs this device (the VM closes its loop first). Idempotent.
     */
    @Override
    public void close() {
        closed = true;
        listeners.clear();
        unboundPortAcceptor = null;
        String reason = "the VM with guest CID %d was closed".formatted(guestCid);
        for (VsockConnection connection : connections.values()) {
            terminate(connection, reason);
        }
        connections.clear();
        VsockConnection pending;
        while ((pending = newConnections.poll()) != null) {
            terminate(pending, reason);
        }
        while ((pending = serviceRequests.poll()) != null) {
            terminate(pending, reason);
        }
        outbound.clear();
        rxQueue = null;
        txQueue = null;
    }

    /** Open connections (for tests and metrics); call on the event loop. */
    int connectionCount() {
        return connections.size();
    }

    // ================================================================== guest → host (tx queue)

    private void drainTx() {
        DescriptorChain chain;
        while ((chain = txQueue.pop()) != null) {
            try {
                handleGuestPacket(chain);
            } catch (GuestMemoryException e) {
                // Buffers were checked when popped; only a memory layout change lands here.
                if (LOG.shouldLog()) {
                    LOG.warn("virtio-vsock cid %d: tx packet unreadable (%s); dropped".formatted(guestCid, e.getMessage()));
                }
            }
            txQueue.pushUsed(chain, 0);
        }
    }

    private void handleGuestPacket(DescriptorChain chain) {
        long readable = chain.readableBytes();
        if (readable < VsockHeader.SIZE) {
            reject(VsockRejection.SHORT_HEADER, null);
            return;
        }
        gather(chain, 0, headerBytes, 0, VsockHeader.SIZE);
        VsockHeader h = header.decode(headerBytes, 0);
        metrics.increment(Counter.PACKETS_FROM_GUEST);
        VsockRejection rejection = h.validateFromGuest(guestCid, readable - VsockHeader.SIZE);
        if (rejection != null) {
            reject(rejection, h);
            return;
        }
        VsockConnection connection = connections.get(key(h.dstPort, h.srcPort));
        if (connection == null) {
            handleUnknownConnection(h);
            return;
        }
        handleConnectionPacket(connection, h, (int) h.len, chain);
    }

    private void handleUnknownConnection(VsockHeader h) {
        switch (h.op) {
            case VsockHeader.OP_RST -> { /* §5.10.6.4: never answer RST with RST */ }
            case VsockHeader.OP_REQUEST -> acceptGuestConnection(h);
            default -> reject(VsockRejection.UNKNOWN_CONNECTION, h);
        }
    }

    private void acceptGuestConnection(VsockHeader h) {
        if (connections.size() >= MAX_CONNECTIONS) {
            reject(VsockRejection.CONNECTION_LIMIT, h);
            return;
        }
        Consumer<VsockConnection> handler = listeners.get(h.dstPort);
        UnboundPortAcceptor acceptor = handler == null ? unboundPortAcceptor : null;
        if (handler == null && acceptor == null) {
            reject(VsockRejection.NO_LISTENER, h);
            return;
        }
        VsockConnection connection = new VsockConnection(this, h.dstPort, h.srcPort, false,
                handler != null ? State.ESTABLISHED : State.ACCEPTING, bufferSize, bufferSize);
        synchronized (connection) {
            connection.peerBufAlloc = h.bufAlloc;
            connection.peerForwardedCount = h.fwdCnt;
            connection.responsePending = handler != null;
        }
        connections.put(key(h.dstPort, h.srcPort), connection);
        metrics.increment(Counter.CONNECTIONS_OPENED_BY_GUEST);
        if (handler != null) {
            markOutbound(connection);
            callbacks.execute(() -> runHandler(handler, connection));
        } else {
            callbacks.execute(() -> decideUnbound(acceptor, connection));
        }
    }

    private static void runHandler(Consumer<VsockConnection> handler, VsockConnection connection) {
        try {
            handler.accept(connection);
        } catch (RuntimeException e) {
            System.getLogger(VirtioVsock.class.getName()).log(System.Logger.Level.WARNING,
                    "vsock listener for host port %d failed; connection %s reset".formatted(connection.hostPort, connection), e);
            connection.abort("the host listener failed: " + e);
        }
    }

    private void decideUnbound(UnboundPortAcceptor acceptor, VsockConnection connection) {
        boolean accepted;
        try {
            accepted = acceptor.accept(connection);
        } catch (RuntimeException e) {
            accepted = false;
        }
        synchronized (connection) {
            if (connection.state == State.ACCEPTING) {
                if (accepted) {
                    connection.state = State.ESTABLISHED;
                    connection.responsePending = true;
                } else {
                    connection.resetPending = true;
                    connection.failure = "refused: nothing accepts host port " + connection.hostPort;
                }
                connection.changed();
            }
        }
        requestService(connection);
    }

    /** {@code len} payload bytes follow the header in {@code chain}; RW data goes from there straight into the connection's buffer. */
    private void handleConnectionPacket(VsockConnection c, VsockHeader h, int len, DescriptorChain chain) {
        boolean wake;
        synchronized (c) {
            if (c.state == State.CLOSED) {
                return;
            }
            if (c.peerForwardedCount != h.fwdCnt || c.peerBufAlloc != h.bufAlloc) {
                c.creditRequested = false;
            }
            c.peerBufAlloc = h.bufAlloc;
            c.peerForwardedCount = h.fwdCnt;
            switch (h.op) {
                case VsockHeader.OP_REQUEST -> {
                    resetConnectionLocked(c, VsockRejection.DUPLICATE_REQUEST, "the guest re-requested an open connection");
                    return;
                }
                case VsockHeader.OP_RESPONSE -> {
                    if (c.state != State.CONNECTING || !c.requestSent) {
                        resetConnectionLocked(c, VsockRejection.UNEXPECTED_OP, "unexpected RESPONSE from the guest");
                        return;
                    }
                    c.state = State.ESTABLISHED;
                    metrics.increment(Counter.CONNECTIONS_OPENED_BY_HOST);
                    callbacks.execute(() -> c.established.complete(c));
                }
                case VsockHeader.OP_RST -> {
                    metrics.increment(Counter.RESETS_RECEIVED);
                    String failure = c.state == State.CONNECTING
                            ? null
                            : (c.hostClosed || (c.peerShutdownSend && c.peerShutdownReceive)) ? null : "connection reset by the guest";
                    if (c.state == State.CONNECTING) {
                        // One completion only: a second, racing "closed" error must not win over "refused".
                        closeLocked(c, "connection refused by the guest", new ConnectException(
                                "guest CID %d refused the connection to port %d".formatted(guestCid, c.guestPort)));
                        return;
                    }
                    closeLocked(c, failure);
                    return;
                }
                case VsockHeader.OP_SHUTDOWN -> {
                    if ((h.flags & VsockHeader.SHUTDOWN_RCV) != 0) {
                        c.peerShutdownReceive = true;
                        c.toSend.clear();
                    }
                    if ((h.flags & VsockHeader.SHUTDOWN_SEND) != 0) {
                        c.peerShutdownSend = true;
                    }
                    // Both sides done: end it with RST as Linux does (§5.10.6.5: the peer SHOULD).
                    if (c.peerShutdownReceive && c.peerShutdownSend && c.hostClosed) {
                        c.resetPending = true;
                    }
                }
                case VsockHeader.OP_RW -> {
                    if (c.state != State.ESTABLISHED) {
                        resetConnectionLocked(c, VsockRejection.UNEXPECTED_OP, "data before the connection was established");
                        return;
                    }
                    if (c.peerShutdownSend) {
                        resetConnectionLocked(c, VsockRejection.DATA_AFTER_SHUTDOWN, "the guest sent data after SHUTDOWN");
                        return;
                    }
                    long buffered = Integer.toUnsignedLong(c.receivedCount - c.forwardedCount);
                    if (buffered + len > c.received.capacity()) {
                        resetConnectionLocked(c, VsockRejection.CREDIT_VIOLATION,
                                "the guest ignored the advertised credit (buf_alloc %d)".formatted(c.received.capacity()));
                        return;
                    }
                    if (c.hostClosed) {
                        c.forwardedCount += len; // nobody will read it; the credit frees at once
                    } else {
                        gatherInto(chain, VsockHeader.SIZE, c.received, len);
                    }
                    c.receivedCount += len;
                    metrics.add(Counter.BYTES_FROM_GUEST, len);
                }
                case VsockHeader.OP_CREDIT_UPDATE -> { /* credit taken from the header above */ }
                case VsockHeader.OP_CREDIT_REQUEST -> c.creditUpdatePending = true;
                default -> throw new IllegalStateException("op validated above: " + h.op);
            }
            c.changed();
            wake = hasOutboundWork(c);
        }
        if (wake) {
            markOutbound(c);
        }
    }

    // ================================================================== host → guest (rx queue)

    private void takeHostRequests() {
        VsockConnection c;
        while ((c = newConnections.poll()) != null) {
            synchronized (c) {
                if (c.state != State.CONNECTING || c.resetPending) {
                    c.state = State.CLOSED;
                    continue;
                }
                if (connections.size() >= MAX_CONNECTIONS) {
                    IOException full = new IOException("vsock device of guest CID %d has %d connections open, the maximum"
                            .formatted(guestCid, MAX_CONNECTIONS));
                    c.state = State.CLOSED;
                    c.failure = full.getMessage();
                    VsockConnection refused = c;
                    callbacks.execute(() -> refused.established.completeExceptionally(full));
                    continue;
                }
                c.hostPort = allocatePort(c.guestPort);
            }
            connections.put(key(c.hostPort, c.guestPort), c);
            markOutbound(c);
        }
        while ((c = serviceRequests.poll()) != null) {
            c.queuedForService.set(false);
            if (connections.get(key(c.hostPort, c.guestPort)) == c) {
                markOutbound(c);
            }
        }
    }

    private long allocatePort(long guestPort) {
        while (true) {
            long port = nextEphemeralPort;
            nextEphemeralPort = port + 1 >= 0xffff_ffffL ? FIRST_EPHEMERAL_PORT : port + 1;
            if (!connections.containsKey(key(port, guestPort)) && !listeners.containsKey(port)) {
                return port;
            }
        }
    }

    private void markOutbound(VsockConnection c) {
        if (!c.inOutbound) {
            c.inOutbound = true;
            outbound.addLast(c);
        }
    }

    private enum Step { SENT, IDLE, NO_BUFFER }

    /** Sends pending RSTs, then one packet per connection per round, round-robin, while rx buffers last. */
    private void fillRx() {
        while (resetCount > 0) {
            if (!takeRxChain()) {
                return;
            }
            int i = resetHead;
            sendPacket(resetHostPorts[i], resetGuestPorts[i], VsockHeader.OP_RST, 0, 0, 0, 0, null);
            resetHead = (resetHead + 1) % MAX_PENDING_RESETS;
            resetCount--;
        }
        VsockConnection c;
        while ((c = outbound.peekFirst()) != null) {
            Step step = serviceConnection(c);
            if (step == Step.NO_BUFFER) {
                return;
            }
            outbound.pollFirst();
            if (step == Step.SENT) {
                outbound.addLast(c);
            } else {
                c.inOutbound = false;
            }
        }
    }

    private boolean hasOutboundWork(VsockConnection c) {
        return switch (c.state) {
            case CLOSED, ACCEPTING -> c.resetPending;
            case CONNECTING -> c.resetPending || !c.requestSent;
            case ESTABLISHED -> true; // cheap to check precisely in serviceConnection
        };
    }

    /** One packet for {@code c}, if it has something to say. */
    private Step serviceConnection(VsockConnection c) {
        synchronized (c) {
            if (connections.get(key(c.hostPort, c.guestPort)) != c) {
                return Step.IDLE;
            }
            if (c.resetPending) {
                if (!takeRxChain()) {
                    return Step.NO_BUFFER;
                }
                sendControl(c, VsockHeader.OP_RST, 0);
                metrics.increment(Counter.RESETS_SENT);
                closeLocked(c, c.failure);
                return Step.SENT;
            }
            if (c.state == State.CONNECTING) {
                if (c.requestSent) {
                    return Step.IDLE;
                }
                if (!takeRxChain()) {
                    return Step.NO_BUFFER;
                }
                sendControl(c, VsockHeader.OP_REQUEST, 0);
                c.requestSent = true;
                return Step.SENT;
            }
            if (c.state != State.ESTABLISHED) {
                return Step.IDLE;
            }
            if (c.responsePending) {
                if (!takeRxChain()) {
                    return Step.NO_BUFFER;
                }
                sendControl(c, VsockHeader.OP_RESPONSE, 0);
                c.responsePending = false;
                return Step.SENT;
            }
            // Guest closed both ways earlier and now the host closed too: end with RST (Linux's way).
            if (c.hostClosed && c.peerShutdownReceive && c.peerShutdownSend) {
                c.resetPending = true;
                return serviceConnection(c);
            }
            if (!c.toSend.isEmpty() && !c.peerShutdownReceive) {
                long credit = peerCredit(c);
                if (credit > 0) {
                    if (!takeRxChainForData()) {
                        return Step.NO_BUFFER;
                    }
                    long room = heldRx.writableBytes() - VsockHeader.SIZE;
                    int n = (int) Math.min(Math.min(c.toSend.size(), credit), Math.min(room, VsockHeader.MAX_PAYLOAD));
                    sendPacket(c.hostPort, c.guestPort, VsockHeader.OP_RW, 0, n, c.received.capacity(), c.forwardedCount, c);
                    int freeBefore = c.toSend.free();
                    c.toSend.skip(n);
                    c.sentCount += n;
                    metrics.add(Counter.BYTES_TO_GUEST, n);
                    if (c.toSend.isEmpty() || freeBefore < c.writerWakeMark() && c.toSend.free() >= c.writerWakeMark()) {
                        // Writers wait for the low-water mark, so a wake-up per packet (4 KiB: a Linux guest's rx
                        // buffers) would only wake them to wait again.
                        c.changed();
                    }
                    return Step.SENT;
                }
                if (!c.creditRequested) {
                    if (!takeRxChain()) {
                        return Step.NO_BUFFER;
                    }
                    sendControl(c, VsockHeader.OP_CREDIT_REQUEST, 0);
                    c.creditRequested = true;
                    return Step.SENT;
                }
            }
            int wanted = (c.hostShutdownOutput && c.toSend.isEmpty() ? VsockHeader.SHUTDOWN_SEND : 0)
                    | (c.hostClosed ? VsockHeader.SHUTDOWN_RCV : 0);
            if ((wanted & ~c.shutdownFlagsSent) != 0) {
                if (!takeRxChain()) {
                    return Step.NO_BUFFER;
                }
                c.shutdownFlagsSent |= wanted;
                sendControl(c, VsockHeader.OP_SHUTDOWN, c.shutdownFlagsSent);
                return Step.SENT;
            }
            if (c.creditUpdatePending) {
                if (!takeRxChain()) {
                    return Step.NO_BUFFER;
                }
                sendControl(c, VsockHeader.OP_CREDIT_UPDATE, 0);
                return Step.SENT;
            }
            return Step.IDLE;
        }
    }

    private static long peerCredit(VsockConnection c) {
        long inFlight = Integer.toUnsignedLong(c.sentCount - c.peerForwardedCount);
        long bufAlloc = Integer.toUnsignedLong(c.peerBufAlloc);
        return inFlight >= bufAlloc ? 0 : bufAlloc - inFlight;
    }

    private void sendControl(VsockConnection c, int op, int flags) {
        sendPacket(c.hostPort, c.guestPort, op, flags, 0, c.received.capacity(), c.forwardedCount, c);
    }

    /** Pops an rx chain big enough for a header, unless one is already held; false when the ring is empty. */
    private boolean takeRxChain() {
        if (heldRx != null) {
            return true;
        }
        DescriptorChain chain;
        while ((chain = rxQueue.pop()) != null) {
            if (chain.writableBytes() >= VsockHeader.SIZE) {
                heldRx = chain;
                return true;
            }
            reject(VsockRejection.RX_BUFFER_TOO_SMALL, null);
            rxQueue.pushUsed(chain, 0);
        }
        return false;
    }

    /** As {@link #takeRxChain} for an RW packet: the chain must also hold at least one payload byte. */
    private boolean takeRxChainForData() {
        while (takeRxChain()) {
            if (heldRx.writableBytes() > VsockHeader.SIZE) {
                return true;
            }
            reject(VsockRejection.RX_BUFFER_TOO_SMALL, null);
            rxQueue.pushUsed(heldRx, 0);
            heldRx = null;
        }
        return false;
    }

    /** Fills the held rx chain with one packet (an RW packet's payload: the first {@code len} bytes of {@code c}'s send buffer) and returns it to the driver. */
    private void sendPacket(long hostPort, long guestPort, int op, int flags, int len, int bufAlloc, int fwdCnt,
                            VsockConnection c) {
        outHeader.set(guestCid, hostPort, guestPort, op, len, flags, bufAlloc, fwdCnt).encode(headerBytes, 0);
        int written = VsockHeader.SIZE + len;
        try {
            scatter(heldRx, 0, headerBytes, 0, VsockHeader.SIZE);
            if (len > 0) {
                scatterFrom(c.toSend, heldRx, VsockHeader.SIZE, len);
            }
        } catch (GuestMemoryException e) {
            written = 0;
            if (LOG.shouldLog()) {
                LOG.warn("virtio-vsock cid %d: rx buffer unwritable (%s); %s packet lost".formatted(
                        guestCid, e.getMessage(), VsockHeader.opName(op)));
            }
        }
        rxQueue.pushUsed(heldRx, written);
        heldRx = null;
        metrics.increment(Counter.PACKETS_TO_GUEST);
        if (c != null) {
            c.lastReportedForwardedCount = fwdCnt;
            c.creditUpdatePending = false;
        }
    }

    // ================================================================== helpers

    /** Ends the connection: host side sees EOF ({@code failure} null) or an error; forgets it. */
    private void closeLocked(VsockConnection c, String failure) {
        closeLocked(c, failure, null);
    }

    /** As above; a host connect still pending fails with {@code connectError} when given. */
    private void closeLocked(VsockConnection c, String failure, IOException connectError) {
        if (c.state == State.CLOSED) {
            return;
        }
        c.state = State.CLOSED;
        if (failure != null && c.failure == null) {
            c.failure = failure;
        }
        c.toSend.clear();
        connections.remove(key(c.hostPort, c.guestPort), c);
        metrics.increment(Counter.CONNECTIONS_CLOSED);
        if (!c.established.isDone()) {
            IOException error = connectError != null ? connectError
                    : new IOException("vsock connection %s closed: %s".formatted(c, c.failure));
            callbacks.execute(() -> c.established.completeExceptionally(error));
        }
        c.changed();
    }

    private void terminate(VsockConnection c, String failure) {
        synchronized (c) {
            closeLocked(c, failure);
        }
    }

    /** The guest broke the protocol on an open connection: count, log, reset both ends. */
    private void resetConnectionLocked(VsockConnection c, VsockRejection reason, String detail) {
        metrics.rejected(reason);
        if (LOG.shouldLog()) {
            LOG.warn("virtio-vsock cid %d: %s on %s; connection reset".formatted(guestCid, detail, c));
        }
        c.resetPending = true;
        c.failure = detail;
        c.changed();
        markOutbound(c);
    }

    /** A packet refused outright: count, log, and answer RST when its addresses can be trusted. */
    private void reject(VsockRejection reason, VsockHeader h) {
        metrics.rejected(reason);
        if (LOG.shouldLog()) {
            LOG.warn("virtio-vsock cid %d: %s%s".formatted(guestCid, reason.description(), h == null ? "" : " (" + h + ")"));
        }
        if (h == null || !reason.answeredWithReset() || h.op == VsockHeader.OP_RST) {
            return;
        }
        VsockConnection open = connections.get(key(h.dstPort, h.srcPort));
        if (open != null) {
            synchronized (open) {
                open.resetPending = true;
                open.failure = "the guest sent a malformed packet: " + reason.description();
                open.changed();
            }
            markOutbound(open);
            return;
        }
        if (resetCount == MAX_PENDING_RESETS) {
            metrics.increment(Counter.RESETS_DROPPED);
            return;
        }
        int tail = (resetHead + resetCount) % MAX_PENDING_RESETS;
        resetHostPorts[tail] = h.dstPort;
        resetGuestPorts[tail] = h.srcPort;
        resetCount++;
        metrics.increment(Counter.RESETS_SENT);
    }

    private static long key(long hostPort, long guestPort) {
        return hostPort << 32 | guestPort;
    }

    /** Copies {@code length} readable bytes starting {@code offset} bytes into the chain. */
    private void gather(DescriptorChain chain, long offset, byte[] dst, int dstOffset, int length) {
        for (int i = 0; i < chain.readableCount() && length > 0; i++) {
            long bufferLength = Integer.toUnsignedLong(chain.length(i));
            if (offset >= bufferLength) {
                offset -= bufferLength;
                continue;
            }
            int n = (int) Math.min(length, bufferLength - offset);
            memory.read(chain.address(i) + offset, dst, dstOffset, n);
            dstOffset += n;
            length -= n;
            offset = 0;
        }
    }

    /** Appends {@code length} bytes of the chain's readable buffers, from {@code offset} bytes in, to {@code ring} (room checked by the caller). */
    private void gatherInto(DescriptorChain chain, long offset, ByteRing ring, int length) {
        int before = ring.size();
        try {
            for (int i = 0; i < chain.readableCount() && length > 0; i++) {
                long bufferLength = Integer.toUnsignedLong(chain.length(i));
                if (offset >= bufferLength) {
                    offset -= bufferLength;
                    continue;
                }
                int n = (int) Math.min(length, bufferLength - offset);
                ring.write(memory, chain.address(i) + offset, n);
                length -= n;
                offset = 0;
            }
        } catch (GuestMemoryException e) {
            ring.truncate(before); // all of the packet or none of it
            throw e;
        }
    }

    /** Writes the first {@code length} bytes of {@code ring} into the chain's writable buffers from {@code offset} bytes in. */
    private void scatterFrom(ByteRing ring, DescriptorChain chain, long offset, int length) {
        int from = 0;
        for (int i = chain.firstWritable(); i < chain.count() && length > 0; i++) {
            long bufferLength = Integer.toUnsignedLong(chain.length(i));
            if (offset >= bufferLength) {
                offset -= bufferLength;
                continue;
            }
            int n = (int) Math.min(length, bufferLength - offset);
            ring.peek(from, memory, chain.address(i) + offset, n);
            from += n;
            length -= n;
            offset = 0;
        }
    }

    /** Writes {@code length} bytes into the chain's writable buffers starting {@code offset} bytes in. */
    private void scatter(DescriptorChain chain, long offset, byte[] src, int srcOffset, int length) {
        for (int i = chain.firstWritable(); i < chain.count() && length > 0; i++) {
            long bufferLength = Integer.toUnsignedLong(chain.length(i));
            if (offset >= bufferLength) {
                offset -= bufferLength;
                continue;
            }
            int n = (int) Math.min(length, bufferLength - offset);
            memory.write(chain.address(i) + offset, src, srcOffset, n);
            srcOffset += n;
            length -= n;
            offset = 0;
        }
    }
}
