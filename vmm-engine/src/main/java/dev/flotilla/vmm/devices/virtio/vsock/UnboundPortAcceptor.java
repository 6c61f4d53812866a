package dev.flotilla.vmm.devices.virtio.vsock;

/**
 * Decides, off the event loop, whether a guest connection request to a host port nobody
 * {@link VsockHost#listen listens} on is accepted: the Unix-socket bridge uses it to forward to
 * {@code <path>_<port>} when that socket exists. Until the decision the guest waits for its
 * RESPONSE; a false return or an exception answers with RST.
 */
@FunctionalInterface
public interface UnboundPortAcceptor {

    /**
     * Called on a callback thread with a connection that is not yet established. Return true to
     * establish it (the acceptor then owns it and must close it), false to refuse.
     */
    boolean accept(VsockConnection pending);
}
