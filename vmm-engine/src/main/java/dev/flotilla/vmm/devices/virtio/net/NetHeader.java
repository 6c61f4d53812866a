package dev.flotilla.vmm.devices.virtio.net;

/**
 * struct virtio_net_hdr_v1 (§5.1.6), the 12 bytes in front of every frame: flags u8, gso_type u8,
 * hdr_len le16, gso_size le16, csum_start le16, csum_offset le16, num_buffers le16. With
 * VIRTIO_F_VERSION_1 num_buffers is always there, MRG_RXBUF or not.
 *
 * <p>{@link #checkTransmit} validates a header the guest wrote, from a copy taken once, so a
 * guest rewriting it afterwards changes nothing; the copy, not guest memory, goes to the tap.
 */
public final class NetHeader {
    private NetHeader() {}

    public static final int SIZE = 12;
    public static final int FLAGS = 0;
    public static final int GSO_TYPE = 1;
    public static final int HDR_LEN = 2;
    public static final int GSO_SIZE = 4;
    public static final int CSUM_START = 6;
    public static final int CSUM_OFFSET = 8;
    public static final int NUM_BUFFERS = 10;

    public static final int F_NEEDS_CSUM = 1;
    public static final int F_DATA_VALID = 2;

    public static final int GSO_NONE = 0;
    public static final int GSO_TCPV4 = 1;
    public static final int GSO_UDP = 3;
    public static final int GSO_TCPV6 = 4;
    public static final int GSO_ECN = 0x80;

    /** Smallest frame: an Ethernet header (the tap refuses shorter ones). */
    public static final int MIN_FRAME = 14;
    /**
     * Largest frame either way: a 64 KiB GSO packet plus link headers. With the 12-byte header
     * this is the 65562-byte "big packet" Linux sizes its receive buffers for; a guest or a tap
     * offering more is not honest.
     */
    public static final int MAX_FRAME = 65550;

    /** What the guest may ask of the host on transmit, from the negotiated features. */
    public record TxOffloads(boolean csum, boolean tso4, boolean tso6) {}

    private static int u16(byte[] h, int at) {
        return (h[at] & 0xff) | (h[at + 1] & 0xff) << 8;
    }

    /**
     * Checks a transmit header ({@code header}, at least {@link #SIZE} bytes) for a frame of
     * {@code frameLength} bytes (after the header); null when the frame may go to the tap.
     */
    public static NetRejection checkTransmit(byte[] header, long frameLength, TxOffloads offloads) {
        if (frameLength < MIN_FRAME) {
            return NetRejection.TX_FRAME_TOO_SHORT;
        }
        if (frameLength > MAX_FRAME) {
            return NetRejection.TX_FRAME_TOO_LONG;
        }
        int flags = header[FLAGS] & 0xff;
        if ((flags & ~F_NEEDS_CSUM) != 0) {
            return NetRejection.TX_BAD_FLAGS;
        }
        boolean needsCsum = flags == F_NEEDS_CSUM;
        if (needsCsum) {
            if (!offloads.csum()) {
                return NetRejection.TX_CSUM_NOT_NEGOTIATED;
            }
            // The 16-bit checksum is stored at csum_start + csum_offset.
            if (u16(header, CSUM_START) + (long) u16(header, CSUM_OFFSET) + 2 > frameLength) {
                return NetRejection.TX_CSUM_OUT_OF_FRAME;
            }
        }
        int gso = header[GSO_TYPE] & 0xff;
        if (gso != GSO_NONE) {
            boolean allowed = switch (gso) {
                case GSO_TCPV4 -> offloads.tso4();
                case GSO_TCPV6 -> offloads.tso6();
                default -> false; // UDP (UFO) and ECN are not offered
            };
            if (!allowed) {
                return NetRejection.TX_GSO_NOT_NEGOTIATED;
            }
            if (!needsCsum) {
                return NetRejection.TX_GSO_WITHOUT_CSUM;
            }
            if (u16(header, GSO_SIZE) == 0) {
                return NetRejection.TX_BAD_GSO_SIZE;
            }
        }
        if (u16(header, NUM_BUFFERS) != 0) {
            return NetRejection.TX_BAD_NUM_BUFFERS;
        }
        return null;
    }
}
