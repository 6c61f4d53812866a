package dev.flotilla.vmm.devices.virtio.net;

/**
 * Why a virtio-net chain was not used as a frame. Every chain a guest can malform ends in one of
 * these (counted per reason, logged rate-limited) and goes back to the driver unused.
 */
public enum NetRejection {
    // transmit (§5.1.6.2)
    TX_HEADER_TOO_SHORT("transmit chain with fewer than 12 device-readable bytes (no complete virtio-net header)"),
    TX_FRAME_TOO_SHORT("transmit chain with a header but less than an Ethernet header (14 bytes) of frame"),
    TX_FRAME_TOO_LONG("transmit frame longer than 65550 bytes (64 KiB of payload and headers)"),
    TX_WRITABLE_BUFFER("transmit chain with device-writable buffers"),
    TX_BAD_FLAGS("transmit header with flags other than NEEDS_CSUM"),
    TX_CSUM_NOT_NEGOTIATED("transmit header asks for checksum offload, VIRTIO_NET_F_CSUM not negotiated"),
    TX_CSUM_OUT_OF_FRAME("transmit header's csum_start + csum_offset points past the frame"),
    TX_GSO_NOT_NEGOTIATED("transmit header with a GSO type whose HOST_* feature was not negotiated"),
    TX_GSO_WITHOUT_CSUM("transmit header with GSO but without NEEDS_CSUM"),
    TX_BAD_GSO_SIZE("transmit header with GSO and a gso_size of 0"),
    TX_BAD_NUM_BUFFERS("transmit header with num_buffers other than 0"),
    // receive (§5.1.6.3)
    RX_READABLE_BUFFER("receive chain with device-readable buffers"),
    RX_BUFFER_TOO_SMALL("receive chain too small for the 12-byte virtio-net header"),
    RX_FRAME_TOO_LARGE("received frame larger than the guest's buffers (frame dropped)");

    private final String description;

    NetRejection(String description) {
        this.description = description;
    }

    public String description() {
        return description;
    }
}
