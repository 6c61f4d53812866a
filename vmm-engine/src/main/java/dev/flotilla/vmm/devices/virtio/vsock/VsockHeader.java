package dev.flotilla.vmm.devices.virtio.vsock;

/**
 * {@code struct virtio_vsock_hdr} (virtio 1.2 §5.10.6): the 44-byte little-endian header in front
 * of every packet on the rx and tx queues. Mutable and reused, so decoding a packet allocates
 * nothing; {@link #validateFromGuest} is the one place that decides whether a guest packet is
 * well formed.
 *
 * <pre>
 *   0 le64 src_cid    8 le64 dst_cid   16 le32 src_port  20 le32 dst_port  24 le32 len
 *  28 le16 type      30 le16 op        32 le32 flags     36 le32 buf_alloc 40 le32 fwd_cnt
 * </pre>
 */
public final class VsockHeader {

    public static final int SIZE = 44;

    /** §5.10.6: the only socket type offered (SEQPACKET needs VIRTIO_VSOCK_F_SEQPACKET, not offered). */
    public static final int TYPE_STREAM = 1;

    public static final int OP_INVALID = 0;
    public static final int OP_REQUEST = 1;
    public static final int OP_RESPONSE = 2;
    public static final int OP_RST = 3;
    public static final int OP_SHUTDOWN = 4;
    public static final int OP_RW = 5;
    public static final int OP_CREDIT_UPDATE = 6;
    public static final int OP_CREDIT_REQUEST = 7;

    /** §5.10.6.5 SHUTDOWN flags: the sender will receive no more data. */
    public static final int SHUTDOWN_RCV = 1;
    /** §5.10.6.5 SHUTDOWN flags: the sender will send no more data. */
    public static final int SHUTDOWN_SEND = 2;

    /** §5.10.4: well-known CID of the host. */
    public static final long HOST_CID = 2;

    /**
     * Largest payload of one packet accepted from the guest. Linux never sends more than
     * VIRTIO_VSOCK_MAX_PKT_BUF_SIZE (64 KiB) per packet; anything longer is a hostile or broken
     * driver, and refusing it bounds the copy done per tx descriptor chain.
     */
    public static final int MAX_PAYLOAD = 64 * 1024;

    public long srcCid;
    public long dstCid;
    /** Ports are u32 on the wire; held as unsigned values in a long. */
    public long srcPort;
    public long dstPort;
    /** Payload length (u32, unsigned in a long). */
    public long len;
    public int type;
    public int op;
    /** u32 flags, unsigned in a long. */
    public long flags;
    public int bufAlloc;
    public int fwdCnt;

    /** Reads the header at {@code offset} of {@code buffer} (at least {@link #SIZE} bytes from there). */
    public VsockHeader decode(byte[] buffer, int offset) {
        srcCid = le64(buffer, offset);
        dstCid = le64(buffer, offset + 8);
        srcPort = Integer.toUnsignedLong(le32(buffer, offset + 16));
        dstPort = Integer.toUnsignedLong(le32(buffer, offset + 20));
        len = Integer.toUnsignedLong(le32(buffer, offset + 24));
        type = le16(buffer, offset + 28);
        op = le16(buffer, offset + 30);
        flags = Integer.toUnsignedLong(le32(buffer, offset + 32));
        bufAlloc = le32(buffer, offset + 36);
        fwdCnt = le32(buffer, offset + 40);
        return this;
    }

    /** Writes the header to {@code offset} of {@code buffer}. */
    public void encode(byte[] buffer, int offset) {
        put64(buffer, offset, srcCid);
        put64(buffer, offset + 8, dstCid);
        put32(buffer, offset + 16, (int) srcPort);
        put32(buffer, offset + 20, (int) dstPort);
        put32(buffer, offset + 24, (int) len);
        put16(buffer, offset + 28, type);
        put16(buffer, offset + 30, op);
        put32(buffer, offset + 32, (int) flags);
        put32(buffer, offset + 36, bufAlloc);
        put32(buffer, offset + 40, fwdCnt);
    }

    /**
     * Checks a header received from the guest on the tx queue: null when it may be acted on.
     *
     * @param guestCid        the CID this device gave the guest
     * @param payloadReadable device-readable bytes of the chain after the header
     */
    public VsockRejection validateFromGuest(long guestCid, long payloadReadable) {
        if (srcCid != guestCid) {
            return VsockRejection.WRONG_SOURCE_CID;
        }
        if (dstCid != HOST_CID) {
            return VsockRejection.WRONG_DESTINATION_CID;
        }
        if (type != TYPE_STREAM) {
            return VsockRejection.UNKNOWN_TYPE;
        }
        if (op < OP_REQUEST || op > OP_CREDIT_REQUEST) {
            return VsockRejection.UNKNOWN_OP;
        }
        if (len > MAX_PAYLOAD) {
            return VsockRejection.PAYLOAD_TOO_LARGE;
        }
        if (len > payloadReadable) {
            return VsockRejection.PAYLOAD_TRUNCATED;
        }
        if (len != 0 && op != OP_RW) {
            return VsockRejection.PAYLOAD_ON_CONTROL_PACKET;
        }
        if (op == OP_SHUTDOWN && (flags & ~(long) (SHUTDOWN_RCV | SHUTDOWN_SEND)) != 0) {
            return VsockRejection.UNKNOWN_SHUTDOWN_FLAGS;
        }
        return null;
    }

    /** Fills every field for a packet from the host to the guest. */
    VsockHeader set(long guestCid, long hostPort, long guestPort, int op, int len, int flags, int bufAlloc, int fwdCnt) {
        this.srcCid = HOST_CID;
        this.dstCid = guestCid;
        this.srcPort = hostPort;
        this.dstPort = guestPort;
        this.len = len;
        this.type = TYPE_STREAM;
        this.op = op;
        this.flags = Integer.toUnsignedLong(flags);
        this.bufAlloc = bufAlloc;
        this.fwdCnt = fwdCnt;
        return this;
    }

    public static String opName(int op) {
        return switch (op) {
            case OP_REQUEST -> "REQUEST";
            case OP_RESPONSE -> "RESPONSE";
            case OP_RST -> "RST";
            case OP_SHUTDOWN -> "SHUTDOWN";
            case OP_RW -> "RW";
            case OP_CREDIT_UPDATE -> "CREDIT_UPDATE";
            case OP_CREDIT_REQUEST -> "CREDIT_REQUEST";
            default -> "op " + op;
        };
    }

    @Override
    public String toString() {
        return "VsockHeader[%d:%d -> %d:%d %s len=%d type=%d flags=%d buf_alloc=%d fwd_cnt=%d]".formatted(
                srcCid, srcPort, dstCid, dstPort, opName(op), len, type, flags,
                Integer.toUnsignedLong(bufAlloc), Integer.toUnsignedLong(fwdCnt));
    }

    static int le16(byte[] b, int o) {
        return (b[o] & 0xff) | (b[o + 1] & 0xff) << 8;
    }

    static int le32(byte[] b, int o) {
        return (b[o] & 0xff) | (b[o + 1] & 0xff) << 8 | (b[o + 2] & 0xff) << 16 | (b[o + 3] & 0xff) << 24;
    }

    static long le64(byte[] b, int o) {
        return Integer.toUnsignedLong(le32(b, o)) | (long) le32(b, o + 4) << 32;
    }

    static void put16(byte[] b, int o, int v) {
        b[o] = (byte) v;
        b[o + 1] = (byte) (v >>> 8);
    }

    static void put32(byte[] b, int o, int v) {
        b[o] = (byte) v;
        b[o + 1] = (byte) (v >>> 8);
        b[o + 2] = (byte) (v >>> 16);
        b[o + 3] = (byte) (v >>> 24);
    }

    static void put64(byte[] b, int o, long v) {
        put32(b, o, (int) v);
        put32(b, o + 4, (int) (v >>> 32));
    }
}
