package dev.flotilla.vmm.devices.virtio.blk;

import dev.flotilla.vmm.devices.virtio.queue.DescriptorChain;

/**
 * One virtio-blk request (§5.2.6): its chain and what the parser read from it, the header and the
 * discard segments copied out of guest memory once (so a guest rewriting them later changes
 * nothing). Reusable: a device keeps one per queue slot.
 */
public final class BlockRequest {

    /** Request types (§5.2.6, VIRTIO_BLK_T_*). */
    public static final int T_IN = 0;
    public static final int T_OUT = 1;
    public static final int T_FLUSH = 4;
    public static final int T_GET_ID = 8;
    public static final int T_DISCARD = 11;
    public static final int T_WRITE_ZEROES = 13;
    /** Header: le32 type, le32 reserved, le64 sector. */
    public static final int HEADER_SIZE = 16;
    /** struct virtio_blk_discard_write_zeroes: le64 sector, le32 num_sectors, le32 flags. */
    public static final int SEGMENT_SIZE = 16;
    public static final int SEGMENT_FLAG_UNMAP = 1;

    final DescriptorChain chain;
    int type;
    long sector;
    /** Bytes of data: written to the disk (OUT), read into the guest (IN), or the GET_ID buffer. */
    long dataLength;
    /** Guest address of the status byte. */
    long statusAddress;
    int segmentCount;
    /**
     * Discard / write-zeroes segments, allocated by a slot's first such request ({@link #ensureSegments}):
     * a disk has a queue's worth (1,024) of requests, almost all reads and writes.
     */
    long[] segmentSector = NO_LONGS;
    int[] segmentSectors = NO_INTS;
    boolean[] segmentUnmap = NO_BOOLEANS;

    /** Set by execution: the status byte and the bytes written into the guest's buffers. */
    int resultStatus;
    int writtenToGuest;

    private static final long[] NO_LONGS = {};
    private static final int[] NO_INTS = {};
    private static final boolean[] NO_BOOLEANS = {};

    public BlockRequest(DescriptorChain chain) {
        this.chain = chain;
    }

    void ensureSegments() {
        if (segmentSector.length == 0) {
            segmentSector = new long[BlockLimits.MAX_SEGMENTS];
            segmentSectors = new int[BlockLimits.MAX_SEGMENTS];
            segmentUnmap = new boolean[BlockLimits.MAX_SEGMENTS];
        }
    }

    public DescriptorChain chain() {
        return chain;
    }

    public int type() {
        return type;
    }

    public long sector() {
        return sector;
    }

    public long dataLength() {
        return dataLength;
    }

    public long statusAddress() {
        return statusAddress;
    }

    public int segmentCount() {
        return segmentCount;
    }

    public long segmentSector(int i) {
        return segmentSector[i];
    }

    public int segmentSectors(int i) {
        return segmentSectors[i];
    }

    public boolean segmentUnmap(int i) {
        return segmentUnmap[i];
    }

    /** True when executing it changes the disk. */
    public boolean writes() {
        return type == T_OUT || type == T_DISCARD || type == T_WRITE_ZEROES;
    }
}
