package dev.flotilla.vmm.devices.virtio.vsock;

/**
 * Every way a guest packet (or the guest's use of a connection) is refused. Counted per reason
 * in {@link VsockMetrics}; none of them throws.
 */
public enum VsockRejection {
    /** The tx chain has fewer readable bytes than a header. */
    SHORT_HEADER("packet shorter than the 44-byte header", false),
    /** src_cid is not the guest's own CID: a guest may not spoof another sender. */
    WRONG_SOURCE_CID("source CID is not the guest's CID", false),
    /** dst_cid is not the host (2): there is nobody else to route to. */
    WRONG_DESTINATION_CID("destination CID is not the host", false),
    /** Not VIRTIO_VSOCK_TYPE_STREAM. */
    UNKNOWN_TYPE("socket type is not STREAM", true),
    /** op outside REQUEST..CREDIT_REQUEST. */
    UNKNOWN_OP("unknown operation", true),
    /** len above {@link VsockHeader#MAX_PAYLOAD}. */
    PAYLOAD_TOO_LARGE("payload length is above the per-packet maximum", true),
    /** len larger than the readable bytes the chain carries after the header. */
    PAYLOAD_TRUNCATED("payload length exceeds the buffer", true),
    /** A payload on anything but RW. */
    PAYLOAD_ON_CONTROL_PACKET("payload on a control packet", true),
    /** SHUTDOWN with flags other than RCV and SEND. */
    UNKNOWN_SHUTDOWN_FLAGS("unknown SHUTDOWN flags", true),
    /** A packet (not REQUEST, not RST) for a connection that does not exist. */
    UNKNOWN_CONNECTION("packet for an unknown connection", true),
    /** REQUEST to a host port nobody listens on. */
    NO_LISTENER("connection request to a port nobody listens on", true),
    /** REQUEST beyond {@link VirtioVsock#MAX_CONNECTIONS}. */
    CONNECTION_LIMIT("too many connections", true),
    /** REQUEST for a (host port, guest port) pair already in use. */
    DUPLICATE_REQUEST("connection request for a pair already connected", true),
    /** A packet that makes no sense in the connection's state (RESPONSE when established, RW before RESPONSE...). */
    UNEXPECTED_OP("operation not valid in the connection's state", true),
    /** RW beyond the buf_alloc the host advertised (§5.10.6.3: MUST NOT). */
    CREDIT_VIOLATION("guest sent more data than the host's advertised credit", true),
    /** RW after the guest itself shut down its sending side. */
    DATA_AFTER_SHUTDOWN("data after the guest shut down its sending side", true),
    /** An rx buffer too small for a header; returned unused. */
    RX_BUFFER_TOO_SMALL("receive buffer shorter than a packet header", false);

    private final String description;
    private final boolean answeredWithReset;

    VsockRejection(String description, boolean answeredWithReset) {
        this.description = description;
        this.answeredWithReset = answeredWithReset;
    }

    public String description() {
        return description;
    }

    /** True when the device answers with RST: the addresses are trustworthy enough to reply to. */
    public boolean answeredWithReset() {
        return answeredWithReset;
    }
}
