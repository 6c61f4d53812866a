package dev.flotilla.vmm.devices.virtio.net;

import dev.flotilla.vmm.devices.virtio.DeviceEnvironment;
import dev.flotilla.vmm.logging.RateLimitedLog;
import dev.flotilla.vmm.devices.virtio.VirtioDevice;
import dev.flotilla.vmm.devices.virtio.VirtioFeatures;
import dev.flotilla.vmm.devices.virtio.VirtioInterrupt;
import dev.flotilla.vmm.devices.virtio.blk.RateLimiter;
import dev.flotilla.vmm.devices.virtio.queue.DescriptorChain;
import dev.flotilla.vmm.devices.virtio.queue.Virtqueue;
import dev.flotilla.vmm.memory.GuestMemory;
import dev.flotilla.vmm.memory.GuestMemoryException;
import dev.flotilla.vmm.sys.Errno;
import dev.flotilla.vmm.sys.Iovec;
import dev.flotilla.vmm.sys.Tun;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.util.EnumMap;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.concurrent.atomic.AtomicLong;

import static dev.flotilla.vmm.devices.virtio.VirtioFeatures.bit;

/**
 * virtio-net (virtio 1.2 §5.1), one queue pair over a {@link NetBackend} (a tap).
 *
 * <p>Offered: MAC (the configured address in config space), STATUS (link always up), CSUM and
 * HOST_TSO4/6 (the guest may hand us partially checksummed and TCP-segmentation-offloaded frames;
 * the tap takes them as they are, header included), GUEST_CSUM and GUEST_TSO4/6 (the tap may hand
 * us such frames: TUNSETOFFLOAD gets exactly what the guest accepted), and MRG_RXBUF (a received
 * frame may span several receive chains; num_buffers says how many). UFO and ECN are not offered:
 * Linux no longer produces UFO and ECN would need both ends to agree per flow.
 *
 * <p>Receive: the tap fd is watched edge-triggered on the VM's event loop. A pass reads frames
 * into one reused native buffer (64 KiB + header) and copies each into as many popped receive
 * chains as it needs. When the guest has no buffers left, the frame waits in that buffer (and
 * the tap queues the rest) until the guest kicks the receive queue: nothing is dropped for want of
 * a buffer, and an idle guest costs no busy loop. Transmit: each chain's header is copied out and
 * validated; then header copy + guest buffers go to the tap with one writev, straight from guest
 * memory. Optional token-bucket limits per direction (bytes and frames); a throttled direction
 * resumes from a timer.
 */
public final class VirtioNet implements VirtioDevice, AutoCloseable {

    public static final int DEVICE_TYPE = 1;
    public static final int RX = 0;
    public static final int TX = 1;
    /** Queue size offered: 256 chains of Linux's mergeable buffers hold several 64 KiB frames. */
    public static final int QUEUE_SIZE = 256;

    public static final int F_CSUM = 0;
    public static final int F_GUEST_CSUM = 1;
    public static final int F_MAC = 5;
    public static final int F_GUEST_TSO4 = 7;
    public static final int F_GUEST_TSO6 = 8;
    public static final int F_HOST_TSO4 = 11;
    public static final int F_HOST_TSO6 = 12;
    public static final int F_MRG_RXBUF = 15;
    public static final int F_STATUS = 16;

    /** §5.1.4: status bit VIRTIO_NET_S_LINK_UP. */
    public static final int S_LINK_UP = 1;
    /** Config space: mac[6], le16 status, le16 max_virtqueue_pairs (0: MQ not offered). */
    public static final int CONFIG_SIZE = 10;

    private static final int RX_BUFFER_SIZE = NetHeader.SIZE + NetHeader.MAX_FRAME;
    private static final RateLimitedLog LOG = RateLimitedLog.forClass(VirtioNet.class);

    private final NetBackend backend;
    private final MacAddress mac;
    private final RateLimiter rxLimiter;
    private final RateLimiter txLimiter;
    private final DeviceEnvironment environment;
    private final String name;
    private final Arena arena = Arena.ofShared();
    /** One received frame (header first), reused for every frame. */
    private final MemorySegment rxBuffer = arena.allocate(RX_BUFFER_SIZE, 64);
    /** The validated copy of the transmit header that goes to the tap. */
    private final MemorySegment txHeader = arena.allocate(NetHeader.SIZE, 8);
    private final byte[] txHeaderBytes = new byte[NetHeader.SIZE];
    /** writev's array: the header copy plus at most one entry per descriptor of a chain. */
    private final MemorySegment iovecs = arena.allocate(Iovec.LAYOUT, QUEUE_SIZE + 1);
    private final Runnable rxRetry = this::rxResume;
    private final Runnable txRetry = this::txResume;

    private final AtomicLong rxFrames = new AtomicLong();
    private final AtomicLong rxBytes = new AtomicLong();
    private final AtomicLong txFrames = new AtomicLong();
    private final AtomicLong txBytes = new AtomicLong();
    private final AtomicLong rxWaits = new AtomicLong();
    private final AtomicLong backendErrors = new AtomicLong();
    private final Map<NetRejection, AtomicLong> rejections = new EnumMap<>(NetRejection.class);

    // Activation state (event loop, transport lock).
    private GuestMemory memory;
    private VirtioInterrupt interrupt;
    private Virtqueue rxQueue;
    private Virtqueue txQueue;
    private boolean mergeable;
    private NetHeader.TxOffloads txOffloads;
    private DescriptorChain[] rxChains;
    private int[] rxWritten;
    private DescriptorChain txChain;
    /** Length (header included) of the frame waiting in rxBuffer, or -1. */
    private int pendingLength = -1;
    private boolean pendingPaid;
    /** Receive chains popped for the pending frame, and the frame bytes copied into them. */
    private int held;
    private int copied;
    /** rxChains[0] was popped and validated but not used (its frame was dropped): use it next. */
    private boolean retained;
    private boolean txChainHeld;
    private boolean rxThrottled;
    private boolean txThrottled;

    public VirtioNet(NetBackend backend, MacAddress mac, RateLimiter rxLimiter, RateLimiter txLimiter,
                     DeviceEnvironment environment, String name) {
        this.backend = Objects.requireNonNull(backend);
        this.mac = Objects.requireNonNull(mac);
        this.rxLimiter = Objects.requireNonNull(rxLimiter);
        this.txLimiter = Objects.requireNonNull(txLimiter);
        this.environment = Objects.requireNonNull(environment);
        this.name = Objects.requireNonNull(name);
        for (NetRejection r : NetRejection.values()) {
            rejections.put(r, new AtomicLong());
        }
        environment.watchReadable(backend.fd(), this::receive);
    }

    @Override
    public int deviceType() {
        return DEVICE_TYPE;
    }

    @Override
    public long offeredFeatures() {
        return VirtioFeatures.QUEUE_FEATURES | bit(F_CSUM) | bit(F_GUEST_CSUM) | bit(F_MAC) | bit(F_GUEST_TSO4)
                | bit(F_GUEST_TSO6) | bit(F_HOST_TSO4) | bit(F_HOST_TSO6) | bit(F_MRG_RXBUF) | bit(F_STATUS);
    }

    @Override
    public int queueCount() {
        return 2;
    }

    @Override
    public int queueMaxSize(int index) {
        return QUEUE_SIZE;
    }

    @Override
    public int configSize() {
        return CONFIG_SIZE;
    }

    @Override
    public long readConfig(int offset, int size) {
        long value = 0;
        for (int i = size - 1; i >= 0; i--) {
            value = value << 8 | configByte(offset + i);
        }
        return value;
    }

    private int configByte(int at) {
        if (at >= 0 && at < 6) {
            return mac.octet(at);
        }
        return at == 6 ? S_LINK_UP : 0;
    }

    @Override
    public void writeConfig(int offset, int size, long value) {
        // §5.1.4: the mac is device-writable only without VIRTIO_NET_F_MAC (legacy); ignored.
    }

    @Override
    public void activate(List<Virtqueue> queues, long negotiated, GuestMemory memory, VirtioInterrupt interrupt) {
        this.memory = memory;
        this.interrupt = interrupt;
        this.rxQueue = queues.get(RX);
        this.txQueue = queues.get(TX);
        this.mergeable = VirtioFeatures.has(negotiated, F_MRG_RXBUF);
        this.txOffloads = new NetHeader.TxOffloads(VirtioFeatures.has(negotiated, F_CSUM),
                VirtioFeatures.has(negotiated, F_HOST_TSO4), VirtioFeatures.has(negotiated, F_HOST_TSO6));
        int rxSize = rxQueue == null ? 0 : rxQueue.size();
        rxChains = new DescriptorChain[rxSize];
        rxWritten = new int[rxSize];
        for (int i = 0; i < rxSize; i++) {
            rxChains[i] = rxQueue.newChain();
        }
        txChain = txQueue == null ? null : txQueue.newChain();
        pendingLength = -1;
        pendingPaid = false;
        held = 0;
        copied = 0;
        retained = false;
        txChainHeld = false;
        rxThrottled = false;
        txThrottled = false;
        int offload = 0;
        if (VirtioFeatures.has(negotiated, F_GUEST_CSUM)) {
            offload |= Tun.TUN_F_CSUM;
            // TSO frames always come partially checksummed: only with GUEST_CSUM.
            offload |= VirtioFeatures.has(negotiated, F_GUEST_TSO4) ? Tun.TUN_F_TSO4 : 0;
            offload |= VirtioFeatures.has(negotiated, F_GUEST_TSO6) ? Tun.TUN_F_TSO6 : 0;
        }
        try {
            backend.setOffload(offload);
        } catch (RuntimeException e) {
            LOG.warn("virtio-net %s: %s refused offloads %#x (%s); the host checksums and segments instead"
                    .formatted(name, backend.describe(), offload, e.getMessage()));
        }
        // Frames may already be waiting; the edge that announced them has passed.
        receive();
    }

    @Override
    public void processQueue(int index) {
        if (memory == null) {
            return;
        }
        if (index == RX) {
            receive();
        } else if (index == TX) {
            transmit();
        }
    }

    @Override
    public void reset() {
        memory = null;
        interrupt = null;
        rxQueue = null;
        txQueue = null;
        rxChains = null;
        txChain = null;
        // A frame read for the old driver is dropped: its buffers are gone.
        pendingLength = -1;
        held = 0;
        copied = 0;
        retained = false;
        txChainHeld = false;
    }

    @Override
    public void close() {
        backend.close();
        arena.close();
    }

    // ---------------------------------------------------------------- receive

    private void rxResume() {
        rxThrottled = false;
        receive();
    }

    /** Moves frames from the backend into the guest until either side runs dry. Loop thread, lock held. */
    private void receive() {
        Virtqueue q = rxQueue;
        if (memory == null || q == null || rxThrottled) {
            return;
        }
        try {
            while (true) {
                if (pendingLength < 0) {
                    long n = backend.read(rxBuffer);
                    if (n < 0) {
                        if (n != -Errno.EAGAIN) {
                            backendErrors.incrementAndGet();
                            if (LOG.shouldLog()) {
                                LOG.warn("virtio-net %s: read from %s failed (errno %d)".formatted(name, backend.describe(), -n));
                            }
                        }
                        break;
                    }
                    if (n < NetHeader.SIZE + NetHeader.MIN_FRAME) {
                        backendErrors.incrementAndGet();
                        continue;
                    }
                    pendingLength = (int) n;
                    pendingPaid = false;
                }
                if (!pendingPaid) {
                    long frame = pendingLength - NetHeader.SIZE;
                    if (!rxLimiter.isUnlimited() && !rxLimiter.tryAcquire(frame, environment.nanoTime())) {
                        rxThrottled = true;
                        environment.schedule(rxLimiter.nanosUntilAvailable(frame, environment.nanoTime()), rxRetry);
                        break;
                    }
                    pendingPaid = true;
                }
                if (!deliverPending(q)) {
                    rxWaits.incrementAndGet();
                    break; // no guest buffers: the frame waits for the next receive-queue kick
                }
            }
        } catch (GuestMemoryException e) {
            // Chains were validated when popped; only a memory layout change gets here.
            if (LOG.shouldLog()) {
                LOG.warn("virtio-net %s: receive stopped: %s".formatted(name, e.getMessage()));
            }
        }
        if (q.finishBatch()) {
            interrupt.signalUsedBuffers();
        }
    }

    /** Copies the pending frame into receive chains; false when the guest ran out of them first. */
    private boolean deliverPending(Virtqueue q) {
        while (held == 0 || copied < pendingLength) {
            if (held == rxChains.length) {
                // Hostile: every chain tiny. Hand them back empty and drop the frame.
                dropPending(NetRejection.RX_FRAME_TOO_LARGE, true);
                return true;
            }
            DescriptorChain chain = rxChains[held];
            if (retained) {
                retained = false; // rxChains[0], popped and checked for an earlier frame
            } else {
                if (!q.pop(chain)) {
                    return false;
                }
                if (chain.readableCount() > 0) {
                    reject(q, chain, NetRejection.RX_READABLE_BUFFER);
                    continue;
                }
                if (held == 0 && chain.writableBytes() < NetHeader.SIZE) {
                    reject(q, chain, NetRejection.RX_BUFFER_TOO_SMALL);
                    continue;
                }
            }
            if (!mergeable && chain.writableBytes() < pendingLength) {
                // Without MRG_RXBUF one chain must hold it all. Keep the chain for the next frame.
                retained = true;
                dropPending(NetRejection.RX_FRAME_TOO_LARGE, false);
                return true;
            }
            int n = copyIntoChain(chain, copied, pendingLength - copied);
            rxWritten[held++] = n;
            copied += n;
        }
        // §5.1.6.4: num_buffers counts the chains this frame used (1 without MRG_RXBUF).
        writeChainShort(rxChains[0], NetHeader.NUM_BUFFERS, held);
        for (int i = 0; i < held; i++) {
            q.pushUsed(rxChains[i], rxWritten[i]);
        }
        rxFrames.incrementAndGet();
        rxBytes.addAndGet(pendingLength - NetHeader.SIZE);
        held = 0;
        copied = 0;
        pendingLength = -1;
        return true;
    }

    /** Drops the pending frame; with {@code returnHeld} the chains it had taken go back empty. */
    private void dropPending(NetRejection reason, boolean returnHeld) {
        count(reason, pendingLength - NetHeader.SIZE);
        if (returnHeld) {
            for (int i = 0; i < held; i++) {
                rxQueue.pushUsed(rxChains[i], 0);
            }
        }
        held = 0;
        copied = 0;
        pendingLength = -1;
    }

    /** Copies {@code length} bytes of rxBuffer from {@code from} into the chain's writable buffers; returns bytes copied. */
    private int copyIntoChain(DescriptorChain chain, int from, int length) {
        int done = 0;
        for (int i = chain.firstWritable(); i < chain.count() && done < length; i++) {
            int n = (int) Math.min(Integer.toUnsignedLong(chain.length(i)), length - done);
            MemorySegment.copy(rxBuffer, from + done, memory.slice(chain.address(i), n), 0, n);
            done += n;
        }
        return done;
    }

    /** Writes a le16 at byte {@code offset} of the chain's writable space (it may straddle buffers). */
    private void writeChainShort(DescriptorChain chain, int offset, int value) {
        for (int k = 0; k < 2; k++) {
            int at = offset + k;
            for (int i = chain.firstWritable(); i < chain.count(); i++) {
                long length = Integer.toUnsignedLong(chain.length(i));
                if (at < length) {
                    memory.writeByte(chain.address(i) + at, (byte) (value >>> (8 * k)));
                    break;
                }
                at -= (int) length;
            }
        }
    }

    // ---------------------------------------------------------------- transmit

    private void txResume() {
        txThrottled = false;
        transmit();
    }

    /** Sends every available transmit chain to the backend. Loop thread, lock held. */
    private void transmit() {
        Virtqueue q = txQueue;
        if (memory == null || q == null || txThrottled) {
            return;
        }
        try {
            while (true) {
                if (!txChainHeld) {
                    if (!q.pop(txChain)) {
                        break;
                    }
                    NetRejection r = parseTransmit(txChain);
                    if (r != null) {
                        reject(q, txChain, r);
                        continue;
                    }
                    txChainHeld = true;
                }
                long frame = txChain.readableBytes() - NetHeader.SIZE;
                if (!txLimiter.isUnlimited() && !txLimiter.tryAcquire(frame, environment.nanoTime())) {
                    txThrottled = true;
                    environment.schedule(txLimiter.nanosUntilAvailable(frame, environment.nanoTime()), txRetry);
                    break;
                }
                send(txChain, frame);
                txChainHeld = false;
                q.pushUsed(txChain, 0);
            }
        } catch (GuestMemoryException e) {
            if (LOG.shouldLog()) {
                LOG.warn("virtio-net %s: transmit stopped: %s".formatted(name, e.getMessage()));
            }
        }
        if (q.finishBatch()) {
            interrupt.signalUsedBuffers();
        }
    }

    /** Copies out and checks the header; null when the chain is a frame we may send. */
    private NetRejection parseTransmit(DescriptorChain chain) {
        if (chain.writableCount() > 0) {
            return NetRejection.TX_WRITABLE_BUFFER;
        }
        if (chain.readableBytes() < NetHeader.SIZE) {
            return NetRejection.TX_HEADER_TOO_SHORT;
        }
        int done = 0;
        for (int i = 0; i < chain.readableCount() && done < NetHeader.SIZE; i++) {
            int n = (int) Math.min(Integer.toUnsignedLong(chain.length(i)), NetHeader.SIZE - done);
            memory.read(chain.address(i), txHeaderBytes, done, n);
            done += n;
        }
        return NetHeader.checkTransmit(txHeaderBytes, chain.readableBytes() - NetHeader.SIZE, txOffloads);
    }

    /** One writev: our header copy, then the guest's buffers after its header. */
    private void send(DescriptorChain chain, long frame) {
        MemorySegment.copy(txHeaderBytes, 0, txHeader, ValueLayout.JAVA_BYTE, 0, NetHeader.SIZE);
        Iovec.set(iovecs, 0, txHeader);
        int count = 1;
        long skip = NetHeader.SIZE;
        for (int i = 0; i < chain.readableCount(); i++) {
            long length = Integer.toUnsignedLong(chain.length(i));
            if (skip >= length) {
                skip -= length;
                continue;
            }
            Iovec.set(iovecs, count++, memory.slice(chain.address(i) + skip, length - skip));
            skip = 0;
        }
        long n = backend.writev(iovecs, count);
        if (n < 0) {
            // EAGAIN: the tap's queue is full (no reader on the host side); the frame is lost as on a wire.
            backendErrors.incrementAndGet();
            if (LOG.shouldLog()) {
                LOG.warn("virtio-net %s: write to %s failed (errno %d); frame dropped".formatted(name, backend.describe(), -n));
            }
            return;
        }
        txFrames.incrementAndGet();
        txBytes.addAndGet(frame);
    }

    private void reject(Virtqueue q, DescriptorChain chain, NetRejection reason) {
        count(reason, chain.readableBytes() + chain.writableBytes());
        q.pushUsed(chain, 0);
    }

    private void count(NetRejection reason, long bytes) {
        rejections.get(reason).incrementAndGet();
        if (LOG.shouldLog()) {
            LOG.warn("virtio-net %s: %s (%d bytes)".formatted(name, reason.description(), bytes));
        }
    }

    // ---------------------------------------------------------------- observation

    public long rxFrames() {
        return rxFrames.get();
    }

    public long rxBytes() {
        return rxBytes.get();
    }

    public long txFrames() {
        return txFrames.get();
    }

    public long txBytes() {
        return txBytes.get();
    }

    /** Times a received frame had to wait for the guest to post buffers. */
    public long rxWaits() {
        return rxWaits.get();
    }

    public long backendErrors() {
        return backendErrors.get();
    }

    public long rejections(NetRejection reason) {
        return rejections.get(reason).get();
    }

    public MacAddress mac() {
        return mac;
    }

    public String name() {
        return name;
    }
}
