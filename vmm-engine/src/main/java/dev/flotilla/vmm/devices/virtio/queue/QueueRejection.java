package dev.flotilla.vmm.devices.virtio.queue;

/**
 * Every way a driver's queue setup or ring contents can be refused. Guest input never surfaces
 * as an exception from the queue layer: it becomes one of these, counted in {@link QueueMetrics}
 * and logged through a rate limiter.
 *
 * <p>Three kinds, by what the queue does about it:
 * <ul>
 *   <li>{@link Kind#CONFIG}: the driver's queue configuration is invalid; activation fails and the
 *       transport sets DEVICE_NEEDS_RESET.</li>
 *   <li>{@link Kind#CHAIN}: one descriptor chain is malformed; the queue returns it to the driver
 *       as used with length 0 and carries on. The device never sees it.</li>
 *   <li>{@link Kind#FATAL}: the ring itself cannot be trusted any more (we cannot even tell which
 *       buffer to return); the queue stops and asks for a device reset (§2.1.2).</li>
 * </ul>
 */
public enum QueueRejection {
    // --- configuration (checked by QueueConfig.activate) ---
    /** QueueNum is 0 (§4.2.2: a queue must have at least one entry). */
    ZERO_SIZE(Kind.CONFIG, "queue size is zero"),
    /** §2.7: split queue sizes are powers of two. */
    SIZE_NOT_POWER_OF_TWO(Kind.CONFIG, "split queue size is not a power of two"),
    /** Above QueueNumMax (§4.2.2) or the layout's limit (2^15, §2.7 and §2.8). */
    SIZE_ABOVE_MAXIMUM(Kind.CONFIG, "queue size is larger than the device's maximum"),
    /** §2.7 and §2.8.10.1 alignment table: descriptors 16, avail/driver area 2 or 4, used/device area 4. */
    MISALIGNED_RING(Kind.CONFIG, "a ring part is not aligned as the layout requires"),
    /** A ring part does not lie within guest RAM. */
    RING_OUTSIDE_MEMORY(Kind.CONFIG, "a ring part lies outside guest memory"),

    // --- one descriptor chain (returned as used, length 0) ---
    /** A descriptor index was visited twice in one chain (§2.7.5.3.1: loops are forbidden). */
    LOOP(Kind.CHAIN, "descriptor chain loops"),
    /** More descriptors than the queue size (§2.7.5.3.1, §2.8.6.1). */
    CHAIN_TOO_LONG(Kind.CHAIN, "descriptor chain is longer than the queue size"),
    /** A buffer's address range is not guest RAM. */
    BUFFER_OUTSIDE_MEMORY(Kind.CHAIN, "a buffer lies outside guest memory"),
    /** VIRTQ_DESC_F_NEXT points past the (direct or indirect) descriptor table. */
    NEXT_OUT_OF_RANGE(Kind.CHAIN, "next descriptor index is out of range"),
    /** A device-readable buffer after a device-writable one (§2.7.4.2, §2.8.6.1). */
    READABLE_AFTER_WRITABLE(Kind.CHAIN, "device-readable buffer follows a device-writable one"),
    /** INDIRECT without VIRTIO_F_INDIRECT_DESC negotiated (§2.7.5.3.1). */
    INDIRECT_NOT_NEGOTIATED(Kind.CHAIN, "indirect descriptor used without VIRTIO_F_INDIRECT_DESC"),
    /** An indirect table inside an indirect table (§2.7.5.3.1: MUST NOT). */
    NESTED_INDIRECT(Kind.CHAIN, "indirect descriptor inside an indirect table"),
    /** INDIRECT together with NEXT (§2.7.5.3.1), or an indirect descriptor inside a packed chain (§2.8.7). */
    INDIRECT_WITH_NEXT(Kind.CHAIN, "indirect descriptor combined with a chain"),
    /** Indirect table length zero, not a multiple of 16, or its table outside guest memory. */
    BAD_INDIRECT_TABLE(Kind.CHAIN, "indirect table has a bad length or lies outside guest memory"),

    // --- the ring itself (queue stops, device needs reset) ---
    /** avail->idx moved more than the queue size past what the device consumed (§2.7.6). */
    AVAIL_INDEX_JUMP(Kind.FATAL, "available index moved by more than the queue size"),
    /** A split head index or a packed buffer ID not below the queue size. */
    HEAD_OUT_OF_RANGE(Kind.FATAL, "head descriptor index or buffer id is out of range"),
    /** A packed chain continues into a descriptor that is not available (§2.8.6: driver MUST NOT). */
    PACKED_CHAIN_INCOMPLETE(Kind.FATAL, "packed descriptor chain continues into a descriptor that is not available"),
    /** The device tried to return more buffers than were made available. */
    USED_OVERFLOW(Kind.FATAL, "more used buffers than available ones"),
    /** A ring access failed although the ring was validated (defence in depth). */
    GUEST_MEMORY_FAULT(Kind.FATAL, "guest memory access failed while walking the ring");

    public enum Kind { CONFIG, CHAIN, FATAL }

    private final Kind kind;
    private final String description;

    QueueRejection(Kind kind, String description) {
        this.kind = kind;
        this.description = description;
    }

    public Kind kind() {
        return kind;
    }

    public String description() {
        return description;
    }
}
