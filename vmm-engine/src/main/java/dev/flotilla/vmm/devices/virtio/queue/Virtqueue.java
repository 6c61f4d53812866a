package dev.flotilla.vmm.devices.virtio.queue;

import dev.flotilla.vmm.logging.RateLimitedLog;
import dev.flotilla.vmm.devices.virtio.VirtioFeatures;
import dev.flotilla.vmm.memory.GuestMemory;
import dev.flotilla.vmm.memory.GuestMemoryException;

/**
 * A running virtqueue, device side: the API every device uses, whatever the ring layout.
 *
 * <pre>{@code
 * DescriptorChain chain;
 * while ((chain = queue.pop()) != null) {
 *     int written = handle(chain);          // read the readable buffers, fill the writable ones
 *     queue.pushUsed(chain, written);
 * }
 * if (queue.finishBatch()) interrupt.signalUsedBuffers();
 * }</pre>
 *
 * <p>{@link #pop} only hands out validated chains. A malformed chain is returned to the driver as
 * used with length 0, counted and logged, and {@code pop} moves on to the next one. A ring that
 * cannot be trusted any more stops the queue: {@link #needsReset()} turns true and the transport
 * sets DEVICE_NEEDS_RESET. No guest input makes these methods throw.
 *
 * <p>While the device works through the ring, the driver's kicks are suppressed (used->flags
 * NO_NOTIFY or packed DISABLE, or simply avail_event left behind with EVENT_IDX); they are
 * re-enabled when {@code pop} finds the ring empty. So a device pass must pop until null, or
 * arrange to come back by itself (timer, completion): the driver will not kick in between.
 *
 * <p>Used entries are published once per batch ({@link #finishBatch}), which also takes the one
 * "notify the driver?" decision for the batch, honouring VIRTIO_F_EVENT_IDX and the driver's
 * suppression flags. Not thread-safe: one thread (the device's event loop pass) drives a queue.
 *
 * <p>Memory ordering: the guest runs concurrently on other CPUs. Fences mirror the barriers the
 * specification asks of the device: acquire after seeing new available entries (§2.7.13.1 /
 * §2.8.21 read barrier), release before publishing used entries, full before reading the
 * driver's event suppression fields after publishing (§2.7.10, §2.8.10).
 */
public abstract sealed class Virtqueue permits SplitVirtqueue, PackedVirtqueue {

    static final int DESC_F_NEXT = 1;
    static final int DESC_F_WRITE = 2;
    static final int DESC_F_INDIRECT = 4;
    /** Size of one descriptor in both layouts (§2.7.5 struct virtq_desc, §2.8.13 struct pvirtq_desc). */
    static final int DESCRIPTOR_SIZE = 16;

    static final int POPPED = 1;
    static final int EMPTY = 0;
    static final int REJECTED = -1;

    private static final RateLimitedLog LOG = RateLimitedLog.forClass(Virtqueue.class);

    final GuestMemory memory;
    final String name;
    final int size;
    final boolean eventIdx;
    final boolean indirectAllowed;
    final QueueMetrics metrics;
    private final DescriptorChain ownChain;
    private QueueRejection failure;
    /** Chains handed out (or rejected) and not yet pushed back: bounds pushUsed. */
    int inFlight;
    /** An indirect table read in one copy, two words per descriptor; grown to the longest table seen. */
    private long[] tableWords = new long[0];

    Virtqueue(GuestMemory memory, String name, int size, long features, QueueMetrics metrics) {
        this.memory = memory;
        this.name = name;
        this.size = size;
        this.eventIdx = VirtioFeatures.has(features, VirtioFeatures.EVENT_IDX);
        this.indirectAllowed = VirtioFeatures.has(features, VirtioFeatures.INDIRECT_DESC);
        this.metrics = metrics;
        this.ownChain = newChain();
    }

    /** Number of entries (QueueNum). */
    public final int size() {
        return size;
    }

    /** Name for logs and metrics, e.g. "rng.requestq". */
    public final String name() {
        return name;
    }

    public final QueueMetrics metrics() {
        return metrics;
    }

    /** True for the packed layout (§2.8), false for split (§2.7). */
    public abstract boolean isPacked();

    /** A chain able to hold any request of this queue, for devices that keep requests in flight. */
    public final DescriptorChain newChain() {
        return new DescriptorChain(size);
    }

    /**
     * The next available request, in the queue's own reusable chain (valid until the next call),
     * or null when there is none or the queue has failed.
     */
    public final DescriptorChain pop() {
        return pop(ownChain) ? ownChain : null;
    }

    /** Fills {@code chain} with the next available request; false when there is none. */
    public final boolean pop(DescriptorChain chain) {
        if (chain.capacity() < size) {
            throw new IllegalArgumentException("chain was made for a smaller queue");
        }
        if (failure != null) {
            return false;
        }
        try {
            // Each round consumes at least one available entry and at most `size` are available
            // (larger jumps are fatal), so this loop ends even if every chain is malformed.
            while (true) {
                int result = popOnce(chain);
                if (result == POPPED) {
                    metrics.popped();
                    return true;
                }
                if (result == EMPTY || failure != null) {
                    return false;
                }
            }
        } catch (GuestMemoryException e) {
            fail(QueueRejection.GUEST_MEMORY_FAULT, e.getMessage());
            return false;
        }
    }

    /** Returns {@code chain} to the driver, reporting {@code writtenLength} bytes written into its writable buffers. */
    public final void pushUsed(DescriptorChain chain, int writtenLength) {
        pushUsed(chain.head(), chain.ringSlots(), writtenLength);
    }

    /** As {@link #pushUsed(DescriptorChain, int)} for a request whose chain object was recycled. */
    public final void pushUsed(int head, int ringSlots, int writtenLength) {
        if (failure != null) {
            return;
        }
        if (inFlight == 0) {
            // A device bug, not guest input: the device returned more than it took.
            throw new IllegalStateException("queue %s: pushUsed without an outstanding request".formatted(name));
        }
        if (writtenLength < 0) {
            throw new IllegalArgumentException("written length must not be negative: " + writtenLength);
        }
        try {
            writeUsed(head, ringSlots, writtenLength);
            inFlight--;
            metrics.pushed();
        } catch (GuestMemoryException e) {
            fail(QueueRejection.GUEST_MEMORY_FAULT, e.getMessage());
        }
    }

    /**
     * Publishes the used entries pushed since the last call and decides whether the driver wants
     * a used-buffer notification for them. False when nothing was pushed.
     */
    public final boolean finishBatch() {
        if (failure != null) {
            return false;
        }
        try {
            if (!hasUnpublished()) {
                return false;
            }
            boolean notify = publishAndDecide();
            metrics.notification(notify);
            return notify;
        } catch (GuestMemoryException e) {
            fail(QueueRejection.GUEST_MEMORY_FAULT, e.getMessage());
            return false;
        }
    }

    /** True once the ring could not be trusted; only a device reset recovers. */
    public final boolean needsReset() {
        return failure != null;
    }

    /** Why the queue stopped, or null. */
    public final QueueRejection failure() {
        return failure;
    }

    // --- layout-specific parts ---

    abstract int popOnce(DescriptorChain chain);

    abstract void writeUsed(int head, int ringSlots, int writtenLength);

    abstract boolean hasUnpublished();

    abstract boolean publishAndDecide();

    // --- shared helpers ---

    /** Validates and appends one buffer; null when accepted. */
    final QueueRejection addBuffer(DescriptorChain chain, long address, int length, boolean writable) {
        if (!memory.contains(address, Integer.toUnsignedLong(length))) {
            return QueueRejection.BUFFER_OUTSIDE_MEMORY;
        }
        if (!writable && chain.writableCount() > 0) {
            return QueueRejection.READABLE_AFTER_WRITABLE;
        }
        if (!chain.add(address, length, writable)) {
            return QueueRejection.CHAIN_TOO_LONG;
        }
        return null;
    }

    /** Validates an indirect table (address, byte length); null when it may be walked. */
    final QueueRejection checkIndirectTable(long address, int length) {
        long bytes = Integer.toUnsignedLong(length);
        if (bytes == 0 || bytes % DESCRIPTOR_SIZE != 0 || !memory.contains(address, bytes)) {
            return QueueRejection.BAD_INDIRECT_TABLE;
        }
        // §2.7.5.3.1 / §2.8.6.1: no chain, indirect or not, is longer than the queue size.
        if (bytes / DESCRIPTOR_SIZE > size) {
            return QueueRejection.CHAIN_TOO_LONG;
        }
        return null;
    }

    /**
     * Reads a checked indirect table of {@code entries} descriptors in one bulk copy: words
     * {@code 2i} (address) and {@code 2i + 1} (length | flags << 32 | next << 48, both layouts' field
     * order) describe descriptor {@code i}. Valid until the next call.
     */
    final long[] readTable(long address, int entries) {
        if (tableWords.length < 2 * entries) {
            tableWords = new long[2 * entries];
        }
        memory.readLongs(address, tableWords, 2 * entries);
        return tableWords;
    }

    /** A malformed chain: count, log, and hand it back unused so the driver can reclaim it. */
    final void rejectChain(QueueRejection reason, int head, int ringSlots) {
        metrics.rejected(reason);
        if (LOG.shouldLog()) {
            LOG.warn("virtio queue %s: %s (chain head %d); returned to the driver unused".formatted(name, reason.description(), head));
        }
        writeUsed(head, ringSlots, 0);
        inFlight--;
        metrics.pushed();
    }

    /** The ring cannot be trusted: stop the queue until the device is reset. */
    final void fail(QueueRejection reason, String detail) {
        if (failure != null) {
            return;
        }
        failure = reason;
        metrics.rejected(reason);
        if (LOG.shouldLog()) {
            LOG.warn("virtio queue %s stopped, device needs reset: %s%s".formatted(
                    name, reason.description(), detail == null ? "" : " (" + detail + ")"));
        }
    }

    /** §2.7.10 vring_need_event: did the index pass {@code event} when moving from old to new (16-bit arithmetic)? */
    static boolean needEvent(int event, int newIndex, int oldIndex) {
        return ((newIndex - event - 1) & 0xffff) < ((newIndex - oldIndex) & 0xffff);
    }
}
