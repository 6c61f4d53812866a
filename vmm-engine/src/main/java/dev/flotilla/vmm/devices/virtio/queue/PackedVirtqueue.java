package dev.flotilla.vmm.devices.virtio.queue;

import dev.flotilla.vmm.memory.GuestMemory;

import java.lang.invoke.VarHandle;

/**
 * The packed virtqueue (virtio 1.2 §2.8), device side.
 *
 * <pre>
 * Descriptor Ring           16 * N, align 16  struct pvirtq_desc { le64 addr; le32 len; le16 id; le16 flags; }
 * Driver Event Suppression  4, align 4        read by the device: when the driver wants used notifications
 * Device Event Suppression  4, align 4        written by the device: when it wants available notifications
 *   struct pvirtq_event_suppress { le16 desc_event_off:15, desc_event_wrap:1; le16 desc_event_flags:2; }
 * </pre>
 *
 * A descriptor is available when its AVAIL bit equals the driver's wrap counter and its USED bit
 * does not; used when both equal the device's wrap counter (§2.8.1). Both counters start at 1.
 * A chain's used descriptor overwrites the slot where the device's used position is, and the
 * position then skips the chain's descriptor count (§2.8.6).
 */
public final class PackedVirtqueue extends Virtqueue {

    static final int DESC_F_AVAIL = 1 << 7;
    static final int DESC_F_USED = 1 << 15;
    /** §2.8.10 desc_event_flags values. */
    static final int RING_EVENT_FLAGS_ENABLE = 0;
    static final int RING_EVENT_FLAGS_DISABLE = 1;
    static final int RING_EVENT_FLAGS_DESC = 2;

    private final long descRing;
    private final long driverEvent;
    private final long deviceEvent;

    private int nextAvail;
    private boolean availWrap = true;
    /** Without EVENT_IDX: device event flags are DISABLE while the device is busy with the ring. */
    private boolean kicksSuppressed;
    private int nextUsed;
    private boolean usedWrap = true;

    /** The first used descriptor of the batch: its flags are written last, publishing the whole batch at once. */
    private int batchFirstSlot = -1;
    private int batchFirstFlags;
    private int batchSlots;

    PackedVirtqueue(GuestMemory memory, String name, int size, long features, QueueMetrics metrics,
                    long descRing, long driverEvent, long deviceEvent) {
        super(memory, name, size, features, metrics);
        this.descRing = descRing;
        this.driverEvent = driverEvent;
        this.deviceEvent = deviceEvent;
        // Notifications enabled until the first drain arms a descriptor-specific event.
        memory.writeShort(deviceEvent, (short) 0);
        memory.writeShort(deviceEvent + 2, (short) RING_EVENT_FLAGS_ENABLE);
    }

    @Override
    public boolean isPacked() {
        return true;
    }

    private static boolean isAvailable(int flags, boolean wrap) {
        boolean avail = (flags & DESC_F_AVAIL) != 0;
        boolean used = (flags & DESC_F_USED) != 0;
        return avail == wrap && used != wrap;
    }

    private int flagsAt(int slot) {
        return Short.toUnsignedInt(memory.readShort(descRing + (long) DESCRIPTOR_SIZE * slot + 14));
    }

    @Override
    int popOnce(DescriptorChain chain) {
        if (!isAvailable(flagsAt(nextAvail), availWrap)) {
            // Drained: ask for a kick (§2.8.10) — for this very slot with EVENT_IDX, for any new
            // descriptor otherwise — then look again in case the driver added one meanwhile.
            if (eventIdx) {
                memory.writeShort(deviceEvent, (short) (nextAvail | (availWrap ? 0x8000 : 0)));
                VarHandle.releaseFence();
                memory.writeShort(deviceEvent + 2, (short) RING_EVENT_FLAGS_DESC);
            } else if (kicksSuppressed) {
                memory.writeShort(deviceEvent + 2, (short) RING_EVENT_FLAGS_ENABLE);
                kicksSuppressed = false;
            } else {
                return EMPTY;
            }
            VarHandle.fullFence();
            if (!isAvailable(flagsAt(nextAvail), availWrap)) {
                return EMPTY;
            }
        }
        if (!eventIdx && !kicksSuppressed) {
            // Busy with the ring until it is drained: kicks meanwhile would only cost exits.
            memory.writeShort(deviceEvent + 2, (short) RING_EVENT_FLAGS_DISABLE);
            kicksSuppressed = true;
        }
        // §2.8.21: read the descriptor contents only after seeing its flags.
        VarHandle.acquireFence();

        chain.start(0);
        int slot = nextAvail;
        boolean wrap = availWrap;
        int slots = 0;
        int bufferId;
        QueueRejection rejection = null;
        while (true) {
            long descriptor = descRing + (long) DESCRIPTOR_SIZE * slot;
            int flags = Short.toUnsignedInt(memory.readShort(descriptor + 14));
            // The driver exposes a chain's first descriptor last (§2.8.6), so the rest must be
            // available already; if not, we cannot tell where the chain ends.
            if (slots > 0 && !isAvailable(flags, wrap)) {
                fail(QueueRejection.PACKED_CHAIN_INCOMPLETE, "at slot " + slot);
                return EMPTY;
            }
            if (++slots > size) {
                fail(QueueRejection.PACKED_CHAIN_INCOMPLETE, "chain covers the whole ring");
                return EMPTY;
            }
            long address = memory.readLong(descriptor);
            int length = memory.readInt(descriptor + 8);
            bufferId = Short.toUnsignedInt(memory.readShort(descriptor + 12));
            if (rejection == null) {
                if ((flags & DESC_F_INDIRECT) != 0) {
                    if (!indirectAllowed) {
                        rejection = QueueRejection.INDIRECT_NOT_NEGOTIATED;
                    } else if ((flags & DESC_F_NEXT) != 0 || slots > 1) {
                        // §2.8.7: an indirect descriptor is never part of a NEXT-linked list.
                        rejection = QueueRejection.INDIRECT_WITH_NEXT;
                    } else {
                        rejection = parseIndirect(address, length, chain);
                    }
                } else {
                    rejection = addBuffer(chain, address, length, (flags & DESC_F_WRITE) != 0);
                }
            }
            if (++slot == size) {
                slot = 0;
                wrap = !wrap;
            }
            if ((flags & DESC_F_NEXT) == 0) {
                break;
            }
        }
        // §2.8.6: the buffer ID is in the chain's last descriptor.
        if (bufferId >= size) {
            fail(QueueRejection.HEAD_OUT_OF_RANGE, "buffer id " + bufferId + ", queue size " + size);
            return EMPTY;
        }
        nextAvail = slot;
        availWrap = wrap;
        chain.setHead(bufferId);
        chain.setRingSlots(slots);
        inFlight++;
        if (rejection != null) {
            rejectChain(rejection, bufferId, slots);
            return REJECTED;
        }
        return POPPED;
    }

    /** §2.8.7: a table of len/16 packed descriptors, read in order; only WRITE is meaningful. */
    private QueueRejection parseIndirect(long table, int length, DescriptorChain chain) {
        QueueRejection bad = checkIndirectTable(table, length);
        if (bad != null) {
            return bad;
        }
        int entries = (int) (Integer.toUnsignedLong(length) / DESCRIPTOR_SIZE);
        long[] words = readTable(table, entries);
        for (int i = 0; i < entries; i++) {
            long word = words[2 * i + 1];
            // struct pvirtq_desc's second word: len (bits 0-31), id (32-47, unused here), flags (48-63).
            int flags = (int) (word >>> 48);
            if ((flags & DESC_F_INDIRECT) != 0) {
                return QueueRejection.NESTED_INDIRECT;
            }
            bad = addBuffer(chain, words[2 * i], (int) word, (flags & DESC_F_WRITE) != 0);
            if (bad != null) {
                return bad;
            }
        }
        return null;
    }

    @Override
    void writeUsed(int head, int ringSlots, int writtenLength) {
        long descriptor = descRing + (long) DESCRIPTOR_SIZE * nextUsed;
        memory.writeInt(descriptor + 8, writtenLength);
        memory.writeShort(descriptor + 12, (short) head);
        // §2.8.1: AVAIL and USED both equal the device wrap counter; §2.8.4: WRITE means data was written.
        int flags = (usedWrap ? DESC_F_AVAIL | DESC_F_USED : 0) | (writtenLength != 0 ? DESC_F_WRITE : 0);
        if (batchFirstSlot < 0) {
            batchFirstSlot = nextUsed;
            batchFirstFlags = flags;
        } else {
            VarHandle.releaseFence();
            memory.writeShort(descriptor + 14, (short) flags);
        }
        nextUsed += ringSlots;
        if (nextUsed >= size) {
            nextUsed -= size;
            usedWrap = !usedWrap;
        }
        batchSlots += ringSlots;
    }

    @Override
    boolean hasUnpublished() {
        return batchFirstSlot >= 0;
    }

    @Override
    boolean publishAndDecide() {
        // The driver polls only the next slot it expects (§2.8.2), so exposing the batch's first
        // used descriptor last makes the whole batch visible at once.
        VarHandle.releaseFence();
        memory.writeShort(descRing + (long) DESCRIPTOR_SIZE * batchFirstSlot + 14, (short) batchFirstFlags);
        int advanced = batchSlots;
        batchFirstSlot = -1;
        batchSlots = 0;
        VarHandle.fullFence();
        int flags = Short.toUnsignedInt(memory.readShort(driverEvent + 2)) & 0x3;
        if (flags == RING_EVENT_FLAGS_DISABLE) {
            return false;
        }
        if (flags != RING_EVENT_FLAGS_DESC || !eventIdx) {
            // ENABLE, the reserved value 3, or DESC without EVENT_IDX (invalid): notify, the safe side.
            return true;
        }
        if (advanced >= size) {
            return true;
        }
        int offWrap = Short.toUnsignedInt(memory.readShort(driverEvent));
        int offset = offWrap & 0x7fff;
        boolean eventWrap = (offWrap & 0x8000) != 0;
        // An event in the previous lap sits one ring size behind the current positions.
        int event = eventWrap == usedWrap ? offset : (offset - size) & 0xffff;
        int newIndex = nextUsed;
        int oldIndex = (nextUsed - advanced) & 0xffff;
        return needEvent(event, newIndex, oldIndex);
    }
}
