package dev.flotilla.vmm.devices.virtio.vsock;

import java.io.IOException;
import java.time.Duration;
import java.util.concurrent.CompletableFuture;
import java.util.function.Consumer;

/**
 * The host end of a VM's vsock device: the JVM is CID 2. Every method may be called from any
 * thread; none of them runs device work itself — they queue it and wake the VM's event loop.
 */
public interface VsockHost {

    /** The CID the guest was given (config space {@code guest_cid}). */
    long guestCid();

    /**
     * Opens a stream to {@code guestPort}, blocking until the guest answers or {@code timeout}
     * passes. Throws {@link java.net.ConnectException} when the guest refuses (RST) and
     * {@link java.net.SocketTimeoutException} when it does not answer in time.
     */
    VsockConnection connect(long guestPort, Duration timeout) throws IOException;

    /**
     * The same without blocking: completes with the established connection, or exceptionally
     * as {@link #connect} would throw. Completion runs on a callback thread, never the event loop.
     */
    CompletableFuture<VsockConnection> connectAsync(long guestPort, Duration timeout);

    /**
     * Accepts guest-initiated connections to {@code hostPort}: each established connection is
     * handed to {@code handler} on its own (virtual) thread. Close the returned handle to stop
     * listening; connections already accepted stay open.
     */
    AutoCloseable listen(long hostPort, Consumer<VsockConnection> handler);
}
