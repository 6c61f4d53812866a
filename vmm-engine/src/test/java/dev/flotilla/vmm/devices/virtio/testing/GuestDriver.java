package dev.flotilla.vmm.devices.virtio.testing;

import dev.flotilla.vmm.devices.virtio.queue.QueueConfig;
import dev.flotilla.vmm.memory.GuestMemory;

/**
 * The guest side of one virtqueue, written from the specification's driver sections, so devices
 * and the queue layer can be tested without a guest kernel. Lays its ring out in a
 * {@link GuestMemory} and behaves like a well-behaved driver unless a test pokes raw fields.
 *
 * <p>The single-buffer {@code add} and {@link #pollUsed()} allocate nothing, so the benchmark
 * measures the device side only.
 */
public abstract sealed class GuestDriver permits SplitRingDriver, PackedRingDriver {

    /** One element of a request. */
    public record Buffer(long address, int length, boolean writable) {
        public static Buffer readable(long address, int length) {
            return new Buffer(address, length, false);
        }

        public static Buffer writable(long address, int length) {
            return new Buffer(address, length, true);
        }
    }

    final GuestMemory memory;
    final int size;
    final boolean eventIdx;
    int lastUsedId;
    int lastUsedLength;

    GuestDriver(GuestMemory memory, int size, boolean eventIdx) {
        this.memory = memory;
        this.size = size;
        this.eventIdx = eventIdx;
    }

    public static SplitRingDriver split(GuestMemory memory, long base, int size, boolean eventIdx) {
        return new SplitRingDriver(memory, base, size, eventIdx);
    }

    public static PackedRingDriver packed(GuestMemory memory, long base, int size, boolean eventIdx) {
        return new PackedRingDriver(memory, base, size, eventIdx);
    }

    public final int size() {
        return size;
    }

    public abstract boolean isPacked();

    public abstract long descAddress();

    public abstract long driverAddress();

    public abstract long deviceAddress();

    /** Writes this ring's size and addresses into a queue configuration, as a driver does through the transport. */
    public final QueueConfig configure(QueueConfig config) {
        config.setSize(size);
        config.setDescAddress(descAddress());
        config.setDriverAddress(driverAddress());
        config.setDeviceAddress(deviceAddress());
        config.setReady(true);
        return config;
    }

    /** Makes a request available; returns its head index (split) or buffer id (packed). */
    public abstract int add(Buffer... buffers);

    /** Allocation-free single-buffer add. */
    public abstract int add(long address, int length, boolean writable);

    /** A request through an indirect table at {@code table} (§2.7.5.3 / §2.8.7). */
    public abstract int addIndirect(long table, Buffer... buffers);

    /** Takes the next used element; false when none. See {@link #lastUsedId()} / {@link #lastUsedLength()}. */
    public abstract boolean pollUsed();

    public final int lastUsedId() {
        return lastUsedId;
    }

    public final int lastUsedLength() {
        return lastUsedLength;
    }

    /**
     * The driver's decision after adding buffers: must it notify the device (§2.7.13.4 / §2.8.10)?
     * Covers the buffers added since the last call.
     */
    public abstract boolean kickNeeded();

    /**
     * What Linux does after draining the used ring (virtqueue_enable_cb): ask for an interrupt
     * at the next used buffer — used_event / a descriptor event with EVENT_IDX, flags otherwise.
     */
    public abstract void enableUsedNotifications();

    /**
     * What Linux does while it is busy reaping (virtqueue_disable_cb): no interrupts wanted.
     * With EVENT_IDX a split ring just leaves used_event behind (already passed).
     */
    public abstract void disableUsedNotifications();

    /** Free descriptors (split) or free buffer ids (packed). */
    public abstract int freeCount();
}
