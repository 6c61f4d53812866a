package dev.flotilla.vmm.devices.virtio.net;

import java.lang.foreign.MemorySegment;

/**
 * Where virtio-net frames go and come from. Every frame carries the 12-byte virtio-net header
 * ({@link NetHeader#SIZE}) in front, as a tap with IFF_VNET_HDR exchanges them. Called from the
 * event loop only; non-blocking.
 */
public interface NetBackend extends AutoCloseable {

    /** The fd the event loop watches for readability (edge-triggered), or -1 when there is none. */
    int fd();

    /** Reads one frame (header included) into {@code buffer}; returns its length, or minus errno (EAGAIN: none waiting). */
    long read(MemorySegment buffer);

    /** Writes one frame (header included) gathered from {@code count} iovecs; returns bytes written or minus errno. */
    long writev(MemorySegment iovecs, int count);

    /** Which offloads (TUN_F_* bits) frames handed to the guest may carry, from the features the guest took. */
    void setOffload(int tunFlags);

    /** A name for logs (the tap interface). */
    String describe();

    @Override
    void close();
}
