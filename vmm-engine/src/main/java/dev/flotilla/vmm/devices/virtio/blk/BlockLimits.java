package dev.flotilla.vmm.devices.virtio.blk;

/**
 * What the parser checks a request against: the disk's size and the limits the device announced
 * in its configuration space (§5.2.4), so a driver that honours the config never hits a limit.
 *
 * @param capacitySectors disk size in 512-byte sectors
 * @param readOnly        writes, discards and write-zeroes are refused
 * @param flush           VIRTIO_BLK_F_FLUSH negotiated
 * @param discard         VIRTIO_BLK_F_DISCARD negotiated
 * @param writeZeroes     VIRTIO_BLK_F_WRITE_ZEROES negotiated
 */
public record BlockLimits(long capacitySectors, boolean readOnly, boolean flush, boolean discard, boolean writeZeroes) {

    public static final int SECTOR_SIZE = 512;
    /**
     * Segments per request (seg_max): a whole queue's worth of descriptors (a chain never holds
     * more) less header and status, as QEMU announces. With Linux's indirect descriptors a request
     * still takes one ring slot; at 128 a scattered 1 MiB O_DIRECT transfer became 2-3 requests,
     * at 254 two, at 1,022 one.
     */
    public static final int SEG_MAX = VirtioBlock.QUEUE_SIZE - 2;
    /**
     * Bytes per segment (size_max). Large enough that the driver merges physically contiguous
     * guest pages into few segments (QEMU announces no limit at all): at 64 KiB a 1 MiB read from a
     * huge-page buffer still took 16 descriptors, each walked three times per request. It still
     * bounds a request (with seg_max) to what {@link #MAX_DATA_BYTES} allows.
     */
    public static final int SIZE_MAX = 1 << 20;
    /**
     * Data bytes per read/write request at most. A driver honouring seg_max and size_max cannot
     * exceed it; a hostile one would otherwise tie an I/O thread up with one gigabyte request.
     */
    public static final long MAX_DATA_BYTES = (long) SEG_MAX * SIZE_MAX;
    /**
     * Data bytes of a read or write the event loop does itself at most (see VirtioBlock's inline
     * path); a larger one goes to an I/O thread, so one request never holds the loop for long.
     */
    public static final long MAX_INLINE_BYTES = 2L << 20;
    /** Segments per discard / write-zeroes request (max_discard_seg, max_write_zeroes_seg). */
    public static final int MAX_SEGMENTS = 32;
    /** Sectors per discard / write-zeroes segment: 2 GiB, bounding one fallocate call. */
    public static final int MAX_SEGMENT_SECTORS = 1 << 22;
    /** VIRTIO_BLK_ID_BYTES: the serial GET_ID returns. */
    public static final int ID_BYTES = 20;
}
