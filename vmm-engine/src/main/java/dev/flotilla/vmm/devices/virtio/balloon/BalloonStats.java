package dev.flotilla.vmm.devices.virtio.balloon;

import java.util.OptionalLong;

/**
 * The guest's memory statistics from the stats queue (§5.5.6.3): each value is present only if
 * the guest reported its tag. Memory amounts in bytes, the rest counts.
 */
public record BalloonStats(OptionalLong swapIn, OptionalLong swapOut, OptionalLong majorFaults,
                           OptionalLong minorFaults, OptionalLong freeMemory, OptionalLong totalMemory,
                           OptionalLong availableMemory, OptionalLong diskCaches, OptionalLong hugetlbAllocations,
                           OptionalLong hugetlbFailures, long receivedNanos) {

    /** VIRTIO_BALLOON_S_* tags, in order. */
    public static final int TAG_COUNT = 10;

    /** Builds a record from values indexed by tag; {@code present[tag]} says which were reported. */
    static BalloonStats of(long[] values, boolean[] present, long receivedNanos) {
        OptionalLong[] v = new OptionalLong[TAG_COUNT];
        for (int i = 0; i < TAG_COUNT; i++) {
            v[i] = present[i] ? OptionalLong.of(values[i]) : OptionalLong.empty();
        }
        return new BalloonStats(v[0], v[1], v[2], v[3], v[4], v[5], v[6], v[7], v[8], v[9], receivedNanos);
    }
}
