package dev.flotilla.vmm.devices.virtio.testing;

import dev.flotilla.vmm.memory.GuestMemory;

import java.lang.invoke.VarHandle;

/** Driver side of a split virtqueue (virtio 1.2 §2.7, driver requirements of §2.7.13). */
public final class SplitRingDriver extends GuestDriver {

    public static final int NEXT = 1;
    public static final int WRITE = 2;
    public static final int INDIRECT = 4;

    private final long desc;
    private final long avail;
    private final long used;
    private final int[] freeStack;
    private int freeTop;
    private final int[] chainLength;
    private final int[] nextInChain;
    private int availIdx;
    private int lastKickAvailIdx;
    private int lastUsedIdx;

    SplitRingDriver(GuestMemory memory, long base, int size, boolean eventIdx) {
        super(memory, size, eventIdx);
        desc = base;
        avail = desc + 16L * size;
        used = (avail + 6 + 2L * size + 3) & ~3L;
        freeStack = new int[size];
        for (int i = 0; i < size; i++) {
            freeStack[i] = size - 1 - i;
        }
        freeTop = size;
        chainLength = new int[size];
        nextInChain = new int[size];
        memory.zero(desc, used + 6 + 8L * size - desc);
    }

    @Override
    public boolean isPacked() {
        return false;
    }

    @Override
    public long descAddress() {
        return desc;
    }

    @Override
    public long driverAddress() {
        return avail;
    }

    @Override
    public long deviceAddress() {
        return used;
    }

    /** End of the ring area (first byte after the used ring). */
    public long end() {
        return used + 6 + 8L * size;
    }

    @Override
    public int add(Buffer... buffers) {
        int head = -1;
        int previous = -1;
        for (Buffer b : buffers) {
            int d = allocate();
            writeDescriptor(d, b.address(), b.length(), b.writable() ? WRITE : 0, 0);
            if (previous >= 0) {
                setNext(previous, d);
            } else {
                head = d;
            }
            previous = d;
        }
        chainLength[head] = buffers.length;
        publish(head);
        return head;
    }

    @Override
    public int add(long address, int length, boolean writable) {
        int d = allocate();
        writeDescriptor(d, address, length, writable ? WRITE : 0, 0);
        chainLength[d] = 1;
        publish(d);
        return d;
    }

    @Override
    public int addIndirect(long table, Buffer... buffers) {
        for (int i = 0; i < buffers.length; i++) {
            Buffer b = buffers[i];
            long entry = table + 16L * i;
            memory.writeLong(entry, b.address());
            memory.writeInt(entry + 8, b.length());
            memory.writeShort(entry + 12, (short) ((b.writable() ? WRITE : 0) | (i + 1 < buffers.length ? NEXT : 0)));
            memory.writeShort(entry + 14, (short) (i + 1));
        }
        int d = allocate();
        writeDescriptor(d, table, 16 * buffers.length, INDIRECT, 0);
        chainLength[d] = 1;
        publish(d);
        return d;
    }

    private void setNext(int from, int to) {
        long entry = desc + 16L * from;
        memory.writeShort(entry + 12, (short) (memory.readShort(entry + 12) | NEXT));
        memory.writeShort(entry + 14, (short) to);
        nextInChain[from] = to;
    }

    private int allocate() {
        if (freeTop == 0) {
            throw new IllegalStateException("driver: no free descriptors");
        }
        return freeStack[--freeTop];
    }

    /** Raw descriptor write, for hostile-input tests. */
    public void writeDescriptor(int index, long address, int length, int flags, int next) {
        long entry = desc + 16L * index;
        memory.writeLong(entry, address);
        memory.writeInt(entry + 8, length);
        memory.writeShort(entry + 12, (short) flags);
        memory.writeShort(entry + 14, (short) next);
    }

    /** Puts {@code head} into the available ring and publishes it (§2.7.13.2, §2.7.13.3). */
    public void publish(int head) {
        memory.writeShort(avail + 4 + 2L * (availIdx & (size - 1)), (short) head);
        availIdx = (availIdx + 1) & 0xffff;
        VarHandle.releaseFence();
        memory.writeShort(avail + 2, (short) availIdx);
    }

    /** Raw avail->idx write, for hostile-input tests. */
    public void setAvailIdx(int idx) {
        memory.writeShort(avail + 2, (short) idx);
    }

    /** §2.7.7: VIRTQ_AVAIL_F_NO_INTERRUPT. */
    public void setNoInterrupt(boolean suppress) {
        memory.writeShort(avail, (short) (suppress ? 1 : 0));
    }

    /** §2.7.10: used_event, "interrupt me when used->idx passes this". */
    public void setUsedEvent(int index) {
        memory.writeShort(avail + 4 + 2L * size, (short) index);
    }

    /** avail_event as the device last wrote it (§2.7.10). */
    public int availEvent() {
        return Short.toUnsignedInt(memory.readShort(used + 4 + 8L * size));
    }

    public int usedIdx() {
        return Short.toUnsignedInt(memory.readShort(used + 2));
    }

    public int availIdx() {
        return availIdx;
    }

    @Override
    public boolean pollUsed() {
        if (lastUsedIdx == usedIdx()) {
            return false;
        }
        VarHandle.acquireFence();
        long element = used + 4 + 8L * (lastUsedIdx & (size - 1));
        lastUsedId = memory.readInt(element);
        lastUsedLength = memory.readInt(element + 4);
        lastUsedIdx = (lastUsedIdx + 1) & 0xffff;
        if (lastUsedId >= 0 && lastUsedId < size) {
            int d = lastUsedId;
            int length = chainLength[d]; // read once: d moves along the chain
            for (int i = 0; i < length; i++) {
                freeStack[freeTop++] = d;
                d = nextInChain[d];
            }
            chainLength[lastUsedId] = 0;
        }
        return true;
    }

    @Override
    public boolean kickNeeded() {
        VarHandle.fullFence();
        int old = lastKickAvailIdx;
        lastKickAvailIdx = availIdx;
        if (eventIdx) {
            return ((availIdx - availEvent() - 1) & 0xffff) < ((availIdx - old) & 0xffff);
        }
        return (memory.readShort(used) & 1) == 0; // VIRTQ_USED_F_NO_NOTIFY
    }

    @Override
    public void enableUsedNotifications() {
        if (eventIdx) {
            setUsedEvent(lastUsedIdx);
        } else {
            setNoInterrupt(false);
        }
    }

    @Override
    public void disableUsedNotifications() {
        if (!eventIdx) {
            setNoInterrupt(true);
        }
    }

    @Override
    public int freeCount() {
        return freeTop;
    }
}
