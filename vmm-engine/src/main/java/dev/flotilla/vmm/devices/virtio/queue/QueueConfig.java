package dev.flotilla.vmm.devices.virtio.queue;

import dev.flotilla.vmm.devices.virtio.VirtioFeatures;
import dev.flotilla.vmm.memory.GuestMemory;

/**
 * A queue as the driver sets it up through the transport (QueueNum, QueueDesc/Driver/Device,
 * QueueReady; §4.2.3.2), before it runs. Plain mutable state, nothing checked on write:
 * {@link #activate} validates it all at once and returns the running queue, doing no queue work.
 */
public final class QueueConfig {

    /** §2.7 and §2.8: neither layout has more than 2^15 entries. */
    public static final int MAX_QUEUE_SIZE = 1 << 15;

    private final int maxSize;
    private int size;
    private boolean ready;
    private long descAddress;
    private long driverAddress;
    private long deviceAddress;
    private final QueueMetrics metrics = new QueueMetrics();

    public QueueConfig(int maxSize) {
        if (maxSize < 1 || maxSize > MAX_QUEUE_SIZE) {
            throw new IllegalArgumentException("maximum queue size must be in 1..32768: " + maxSize);
        }
        this.maxSize = maxSize;
        reset();
    }

    /** Back to the state after device reset (§2.4): size = maximum, not ready, addresses zero. */
    public void reset() {
        size = maxSize;
        ready = false;
        descAddress = 0;
        driverAddress = 0;
        deviceAddress = 0;
    }

    public int maxSize() {
        return maxSize;
    }

    public int size() {
        return size;
    }

    public void setSize(int size) {
        this.size = size;
    }

    public boolean ready() {
        return ready;
    }

    public void setReady(boolean ready) {
        this.ready = ready;
    }

    /** Descriptor Table (split) or Descriptor Ring (packed). */
    public long descAddress() {
        return descAddress;
    }

    public void setDescAddress(long address) {
        descAddress = address;
    }

    /** Available Ring (split) or Driver Event Suppression (packed). */
    public long driverAddress() {
        return driverAddress;
    }

    public void setDriverAddress(long address) {
        driverAddress = address;
    }

    /** Used Ring (split) or Device Event Suppression (packed). */
    public long deviceAddress() {
        return deviceAddress;
    }

    public void setDeviceAddress(long address) {
        deviceAddress = address;
    }

    /** Counters, kept across resets so a metrics reader sees a queue's whole life. */
    public QueueMetrics metrics() {
        return metrics;
    }

    /**
     * Validates this configuration against guest memory and the negotiated features and returns
     * the running queue: packed when VIRTIO_F_RING_PACKED was negotiated, split otherwise.
     *
     * @param name for logs, e.g. "rng.requestq"
     */
    public Virtqueue activate(GuestMemory memory, long negotiatedFeatures, String name) throws InvalidQueueConfigException {
        boolean packed = VirtioFeatures.has(negotiatedFeatures, VirtioFeatures.RING_PACKED);
        boolean eventIdx = VirtioFeatures.has(negotiatedFeatures, VirtioFeatures.EVENT_IDX);
        if (size == 0) {
            throw invalid(QueueRejection.ZERO_SIZE, name, "size is 0");
        }
        if (size < 0 || size > maxSize) {
            throw invalid(QueueRejection.SIZE_ABOVE_MAXIMUM, name, "size %d is above the maximum %d".formatted(size, maxSize));
        }
        if (!packed && Integer.bitCount(size) != 1) {
            throw invalid(QueueRejection.SIZE_NOT_POWER_OF_TWO, name, "split queue size %d is not a power of two".formatted(size));
        }
        long n = size;
        if (packed) {
            // §2.8.10.1 alignment table: ring 16, both event suppression structures 4.
            checkPart(memory, name, "descriptor ring", descAddress, 16, 16 * n);
            checkPart(memory, name, "driver event suppression", driverAddress, 4, 4);
            checkPart(memory, name, "device event suppression", deviceAddress, 4, 4);
            return new PackedVirtqueue(memory, name, size, negotiatedFeatures, metrics, descAddress, driverAddress, deviceAddress);
        }
        // §2.7 alignment table: descriptors 16, available ring 2, used ring 4; the event fields
        // (used_event, avail_event) only exist with EVENT_IDX.
        int eventField = eventIdx ? 2 : 0;
        checkPart(memory, name, "descriptor table", descAddress, 16, 16 * n);
        checkPart(memory, name, "available ring", driverAddress, 2, 4 + 2 * n + eventField);
        checkPart(memory, name, "used ring", deviceAddress, 4, 4 + 8 * n + eventField);
        return new SplitVirtqueue(memory, name, size, negotiatedFeatures, metrics, descAddress, driverAddress, deviceAddress);
    }

    private void checkPart(GuestMemory memory, String queue, String part, long address, int alignment, long length)
            throws InvalidQueueConfigException {
        if ((address & (alignment - 1)) != 0) {
            throw invalid(QueueRejection.MISALIGNED_RING, queue,
                    "%s at 0x%x is not %d-byte aligned".formatted(part, address, alignment));
        }
        if (!memory.contains(address, length)) {
            throw invalid(QueueRejection.RING_OUTSIDE_MEMORY, queue,
                    "%s at 0x%x (%d bytes) is outside guest memory".formatted(part, address, length));
        }
    }

    private InvalidQueueConfigException invalid(QueueRejection reason, String queue, String detail) {
        metrics.rejected(reason);
        return new InvalidQueueConfigException(reason, "queue %s cannot be activated: %s".formatted(queue, detail));
    }
}
