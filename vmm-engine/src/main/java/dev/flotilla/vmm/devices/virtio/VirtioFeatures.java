package dev.flotilla.vmm.devices.virtio;

/**
 * Transport-independent feature bits (virtio 1.2 §6 "Reserved Feature Bits") and helpers.
 * Device-specific bits (0..23) live with each device.
 */
public final class VirtioFeatures {
    private VirtioFeatures() {}

    /** §6: the driver may use descriptors with VIRTQ_DESC_F_INDIRECT (§2.7.5.3, §2.8.7). */
    public static final int INDIRECT_DESC = 28;
    /** §6: used_event / avail_event fields (§2.7.7, §2.7.10), packed RING_EVENT_FLAGS_DESC (§2.8.10). */
    public static final int EVENT_IDX = 29;
    /** §6: compliance with this (non-legacy) specification; required by this transport. */
    public static final int VERSION_1 = 32;
    /** §6: device accesses memory through an IOMMU / platform rules. Never offered (no IOMMU). */
    public static final int ACCESS_PLATFORM = 33;
    /** §6: the packed virtqueue layout (§2.8). */
    public static final int RING_PACKED = 34;
    /** §6: buffers are used in the order they were made available. Not offered. */
    public static final int IN_ORDER = 35;

    public static long bit(int feature) {
        return 1L << feature;
    }

    public static boolean has(long features, int feature) {
        return (features & (1L << feature)) != 0;
    }

    /** Features every device here can honour on its queues: the queue layer implements them. */
    public static final long QUEUE_FEATURES = bit(VERSION_1) | bit(INDIRECT_DESC) | bit(EVENT_IDX) | bit(RING_PACKED);
}
