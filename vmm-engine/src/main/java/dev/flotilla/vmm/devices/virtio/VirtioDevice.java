package dev.flotilla.vmm.devices.virtio;

import dev.flotilla.vmm.devices.virtio.queue.Virtqueue;
import dev.flotilla.vmm.memory.GuestMemory;

import java.util.List;

/**
 * A virtio device as its transport sees it (virtio 1.2 §2, §5). Devices own no threads and no
 * file descriptors: the transport hands them running queues, guest memory and an interrupt at
 * {@link #activate}, and calls {@link #processQueue} when the driver notifies a queue (from an
 * MMIO write or, in a VM, from the event loop that polls the queue's ioeventfd).
 *
 * <p>All methods are called with the transport's lock held, so a device needs no locking of its
 * own unless it completes requests from other threads.
 */
public interface VirtioDevice {

    /** Device ID (§5): 1 net, 2 block, 4 entropy, 5 balloon, 19 vsock. */
    int deviceType();

    /** Feature bits the device offers, including the transport/queue bits (see {@link VirtioFeatures#QUEUE_FEATURES}). */
    long offeredFeatures();

    /** Number of virtqueues the device uses. */
    int queueCount();

    /** Largest size the driver may give queue {@code index} (QueueNumMax, §4.2.2). */
    int queueMaxSize(int index);

    /** Size of the device-specific configuration space in bytes (§4.2.2 offset 0x100 onwards). */
    int configSize();

    /** Reads {@code size} bytes (1, 2, 4 or 8) at {@code offset} of the config space, little-endian. */
    long readConfig(int offset, int size);

    /** Driver write to the config space; most devices ignore it (read-only config). */
    void writeConfig(int offset, int size, long value);

    /**
     * The driver set DRIVER_OK: the queues are validated and running, features negotiated.
     * {@code queues} has {@link #queueCount()} entries; a queue the driver did not enable is null.
     */
    void activate(List<Virtqueue> queues, long negotiatedFeatures, GuestMemory memory, VirtioInterrupt interrupt);

    /** Process newly available buffers of queue {@code index}; called only when activated. */
    void processQueue(int index);

    /** Drop all queue state and return to the initial state (driver wrote 0 to Status, §2.4). */
    void reset();
}
