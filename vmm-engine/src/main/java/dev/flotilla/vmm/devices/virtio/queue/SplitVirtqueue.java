package dev.flotilla.vmm.devices.virtio.queue;

import dev.flotilla.vmm.memory.GuestMemory;

import java.lang.invoke.VarHandle;
import java.util.Arrays;

/**
 * The split virtqueue (virtio 1.2 §2.7), device side.
 *
 * <pre>
 * Descriptor Table  16 * N, align 16   struct virtq_desc { le64 addr; le32 len; le16 flags; le16 next; }
 * Available Ring    6 + 2N,  align 2   { le16 flags; le16 idx; le16 ring[N]; le16 used_event; }
 * Used Ring         6 + 8N,  align 4   { le16 flags; le16 idx; { le32 id; le32 len; } ring[N]; le16 avail_event; }
 * </pre>
 * used_event / avail_event exist only with VIRTIO_F_EVENT_IDX (§2.7.7, §2.7.10).
 */
public final class SplitVirtqueue extends Virtqueue {

    /** §2.7.7: avail->flags bit asking the device not to interrupt (ignored with EVENT_IDX). */
    static final int AVAIL_F_NO_INTERRUPT = 1;
    /** §2.7.10: used->flags bit asking the driver not to kick (ignored with EVENT_IDX). */
    static final int USED_F_NO_NOTIFY = 1;

    private final long descTable;
    private final long availRing;
    private final long usedRing;
    private final int mask;

    /** Next avail->ring slot to read (free-running 16-bit, §2.7.13). */
    private int nextAvail;
    /** Last avail->idx read from the guest; re-read only when caught up with it. */
    private int knownAvailIdx;
    /** Next used->ring slot to write (free-running 16-bit). */
    private int usedIdx;
    /** used->idx as last published to the driver. */
    private int publishedUsedIdx;
    /** Without EVENT_IDX: VIRTQ_USED_F_NO_NOTIFY is set while the device is busy with the ring. */
    private boolean kicksSuppressed;

    /** Loop detection without clearing: a slot is visited in this chain iff its stamp equals the generation. */
    private final int[] directStamps;
    private final int[] indirectStamps;
    private int directGeneration;
    private int indirectGeneration;

    SplitVirtqueue(GuestMemory memory, String name, int size, long features, QueueMetrics metrics,
                   long descTable, long availRing, long usedRing) {
        super(memory, name, size, features, metrics);
        this.descTable = descTable;
        this.availRing = availRing;
        this.usedRing = usedRing;
        this.mask = size - 1;
        this.directStamps = new int[size];
        this.indirectStamps = new int[size];
        // Both indices start at zero (§2.7.13.1: the driver initialises the rings to zero).
    }

    @Override
    public boolean isPacked() {
        return false;
    }

    @Override
    int popOnce(DescriptorChain chain) {
        if (nextAvail == knownAvailIdx) {
            if (!refreshAvailIdx()) {
                return EMPTY;
            }
            if (nextAvail == knownAvailIdx) {
                // Drained: ask for a kick for the next entry — avail_event with EVENT_IDX
                // (§2.7.10), clearing NO_NOTIFY otherwise (§2.7.7) — then look again: the driver
                // may have added one before it could see the request.
                if (eventIdx) {
                    memory.writeShort(availEventAddress(), (short) nextAvail);
                } else if (kicksSuppressed) {
                    memory.writeShort(usedRing, (short) 0);
                    kicksSuppressed = false;
                } else {
                    return EMPTY;
                }
                VarHandle.fullFence();
                if (!refreshAvailIdx() || nextAvail == knownAvailIdx) {
                    return EMPTY;
                }
            }
            // §2.7.13.1: read the ring entries only after seeing the index that published them.
            VarHandle.acquireFence();
        }
        if (!eventIdx && !kicksSuppressed) {
            // Busy with the ring until it is drained: kicks meanwhile would only cost exits.
            memory.writeShort(usedRing, (short) USED_F_NO_NOTIFY);
            kicksSuppressed = true;
        }
        int head = Short.toUnsignedInt(memory.readShort(availRing + 4 + 2L * (nextAvail & mask)));
        nextAvail = (nextAvail + 1) & 0xffff;
        if (head >= size) {
            fail(QueueRejection.HEAD_OUT_OF_RANGE, "head " + head + ", queue size " + size);
            return EMPTY;
        }
        inFlight++;
        QueueRejection rejection = parseChain(head, chain);
        if (rejection != null) {
            rejectChain(rejection, head, 1);
            return REJECTED;
        }
        return POPPED;
    }

    /** Reads avail->idx; false (and the queue stopped) when it jumped further than the ring holds. */
    private boolean refreshAvailIdx() {
        int idx = Short.toUnsignedInt(memory.readShort(availRing + 2));
        if (((idx - nextAvail) & 0xffff) > size) {
            fail(QueueRejection.AVAIL_INDEX_JUMP, "avail idx %d, device at %d, queue size %d".formatted(idx, nextAvail, size));
            return false;
        }
        knownAvailIdx = idx;
        return true;
    }

    /** Walks the chain from {@code head} (§2.7.5), following at most one indirect table (§2.7.5.3). */
    private QueueRejection parseChain(int head, DescriptorChain chain) {
        chain.start(head);
        chain.setRingSlots(1);
        int generation = nextDirectGeneration();
        int index = head;
        while (true) {
            if (directStamps[index] == generation) {
                return QueueRejection.LOOP;
            }
            directStamps[index] = generation;
            long descriptor = descTable + (long) DESCRIPTOR_SIZE * index;
            long address = memory.readLong(descriptor);
            long word = memory.readLong(descriptor + 8);
            int flags = flags(word);
            if ((flags & DESC_F_INDIRECT) != 0) {
                if (!indirectAllowed) {
                    return QueueRejection.INDIRECT_NOT_NEGOTIATED;
                }
                if ((flags & DESC_F_NEXT) != 0) {
                    return QueueRejection.INDIRECT_WITH_NEXT;
                }
                return parseIndirect(address, (int) word, chain);
            }
            QueueRejection bad = addBuffer(chain, address, (int) word, (flags & DESC_F_WRITE) != 0);
            if (bad != null) {
                return bad;
            }
            if ((flags & DESC_F_NEXT) == 0) {
                return null;
            }
            index = next(word);
            if (index >= size) {
                return QueueRejection.NEXT_OUT_OF_RANGE;
            }
        }
    }

    /** The chain inside an indirect table (§2.7.5.3), read from a copy taken in one go. */
    private QueueRejection parseIndirect(long table, int length, DescriptorChain chain) {
        QueueRejection bad = checkIndirectTable(table, length);
        if (bad != null) {
            return bad;
        }
        int entries = (int) (Integer.toUnsignedLong(length) / DESCRIPTOR_SIZE);
        long[] words = readTable(table, entries);
        int generation = nextIndirectGeneration();
        int index = 0;
        while (true) {
            if (indirectStamps[index] == generation) {
                return QueueRejection.LOOP;
            }
            indirectStamps[index] = generation;
            long word = words[2 * index + 1];
            int flags = flags(word);
            if ((flags & DESC_F_INDIRECT) != 0) {
                return QueueRejection.NESTED_INDIRECT;
            }
            bad = addBuffer(chain, words[2 * index], (int) word, (flags & DESC_F_WRITE) != 0);
            if (bad != null) {
                return bad;
            }
            if ((flags & DESC_F_NEXT) == 0) {
                return null;
            }
            index = next(word);
            if (index >= entries) {
                return QueueRejection.NEXT_OUT_OF_RANGE;
            }
        }
    }

    /** struct virtq_desc's second word: len (bits 0-31), flags (32-47), next (48-63). */
    private static int flags(long word) {
        return (int) (word >>> 32) & 0xffff;
    }

    private static int next(long word) {
        return (int) (word >>> 48);
    }

    private int nextDirectGeneration() {
        if (++directGeneration == 0) {
            Arrays.fill(directStamps, 0);
            directGeneration = 1;
        }
        return directGeneration;
    }

    private int nextIndirectGeneration() {
        if (++indirectGeneration == 0) {
            Arrays.fill(indirectStamps, 0);
            indirectGeneration = 1;
        }
        return indirectGeneration;
    }

    @Override
    void writeUsed(int head, int ringSlots, int writtenLength) {
        long element = usedRing + 4 + 8L * (usedIdx & mask);
        memory.writeInt(element, head);
        memory.writeInt(element + 4, writtenLength);
        usedIdx = (usedIdx + 1) & 0xffff;
    }

    @Override
    boolean hasUnpublished() {
        return usedIdx != publishedUsedIdx;
    }

    @Override
    boolean publishAndDecide() {
        int old = publishedUsedIdx;
        // §2.7.8.2: the used elements must be visible before the index that publishes them.
        VarHandle.releaseFence();
        memory.writeShort(usedRing + 2, (short) usedIdx);
        publishedUsedIdx = usedIdx;
        // §2.7.10: publish used->idx before reading the driver's suppression fields.
        VarHandle.fullFence();
        if (eventIdx) {
            int usedEvent = Short.toUnsignedInt(memory.readShort(availRing + 4 + 2L * size));
            return needEvent(usedEvent, usedIdx, old);
        }
        return (memory.readShort(availRing) & AVAIL_F_NO_INTERRUPT) == 0;
    }

    private long availEventAddress() {
        return usedRing + 4 + 8L * size;
    }
}
