package dev.flotilla.vmm.devices.virtio.testing;

import dev.flotilla.vmm.memory.GuestMemory;

import java.lang.invoke.VarHandle;

/** Driver side of a packed virtqueue (virtio 1.2 §2.8, driver sections §2.8.20 onwards). */
public final class PackedRingDriver extends GuestDriver {

    public static final int NEXT = 1;
    public static final int WRITE = 2;
    public static final int INDIRECT = 4;
    public static final int AVAIL = 1 << 7;
    public static final int USED = 1 << 15;
    public static final int EVENT_ENABLE = 0;
    public static final int EVENT_DISABLE = 1;
    public static final int EVENT_DESC = 2;

    private final long desc;
    private final long driverEvent;
    private final long deviceEvent;
    private final int[] freeIds;
    private int freeTop;
    private final int[] chainSlots;
    /** Ids handed out by {@link #allocateId()}; raw test descriptors use ids that were never allocated. */
    private final boolean[] allocated;
    private int nextAvail;
    private boolean availWrap = true;
    private int nextUsed;
    private boolean usedWrap = true;
    private int slotsSinceKick;

    PackedRingDriver(GuestMemory memory, long base, int size, boolean eventIdx) {
        super(memory, size, eventIdx);
        desc = base;
        driverEvent = desc + 16L * size;
        deviceEvent = driverEvent + 4;
        freeIds = new int[size];
        for (int i = 0; i < size; i++) {
            freeIds[i] = size - 1 - i;
        }
        freeTop = size;
        chainSlots = new int[size];
        allocated = new boolean[size];
        memory.zero(desc, 16L * size + 8);
    }

    @Override
    public boolean isPacked() {
        return true;
    }

    @Override
    public long descAddress() {
        return desc;
    }

    @Override
    public long driverAddress() {
        return driverEvent;
    }

    @Override
    public long deviceAddress() {
        return deviceEvent;
    }

    public long end() {
        return deviceEvent + 4;
    }

    private int availFlags(boolean wrap) {
        return wrap ? AVAIL : USED;
    }

    @Override
    public int add(Buffer... buffers) {
        int id = allocateId();
        int first = nextAvail;
        int firstFlags = 0;
        for (int i = 0; i < buffers.length; i++) {
            Buffer b = buffers[i];
            boolean last = i + 1 == buffers.length;
            int flags = (b.writable() ? WRITE : 0) | (last ? 0 : NEXT) | availFlags(availWrap);
            long entry = desc + 16L * nextAvail;
            memory.writeLong(entry, b.address());
            memory.writeInt(entry + 8, b.length());
            // §2.8.6: the buffer id goes into the last descriptor of the list.
            memory.writeShort(entry + 12, (short) (last ? id : 0));
            if (i == 0) {
                firstFlags = flags;
            } else {
                memory.writeShort(entry + 14, (short) flags);
            }
            advanceAvail();
        }
        chainSlots[id] = buffers.length;
        exposeFirst(first, firstFlags);
        slotsSinceKick += buffers.length;
        return id;
    }

    @Override
    public int add(long address, int length, boolean writable) {
        int id = allocateId();
        int slot = nextAvail;
        long entry = desc + 16L * slot;
        memory.writeLong(entry, address);
        memory.writeInt(entry + 8, length);
        memory.writeShort(entry + 12, (short) id);
        int flags = (writable ? WRITE : 0) | availFlags(availWrap);
        advanceAvail();
        chainSlots[id] = 1;
        exposeFirst(slot, flags);
        slotsSinceKick++;
        return id;
    }

    @Override
    public int addIndirect(long table, Buffer... buffers) {
        for (int i = 0; i < buffers.length; i++) {
            long entry = table + 16L * i;
            memory.writeLong(entry, buffers[i].address());
            memory.writeInt(entry + 8, buffers[i].length());
            memory.writeShort(entry + 12, (short) 0);
            memory.writeShort(entry + 14, (short) (buffers[i].writable() ? WRITE : 0));
        }
        return addRaw(table, 16 * buffers.length, INDIRECT);
    }

    /** One descriptor with arbitrary flags (AVAIL/USED added), for hostile-input tests; returns its id. */
    public int addRaw(long address, int length, int flags) {
        int id = allocateId();
        int slot = nextAvail;
        long entry = desc + 16L * slot;
        memory.writeLong(entry, address);
        memory.writeInt(entry + 8, length);
        memory.writeShort(entry + 12, (short) id);
        int f = flags | availFlags(availWrap);
        advanceAvail();
        chainSlots[id] = 1;
        exposeFirst(slot, f);
        slotsSinceKick++;
        return id;
    }

    /** Raw descriptor at the next slot with an explicit id and flags (wrap bits added), not exposed unless {@code expose}. */
    public void writeRawNext(long address, int length, int id, int flags) {
        long entry = desc + 16L * nextAvail;
        memory.writeLong(entry, address);
        memory.writeInt(entry + 8, length);
        memory.writeShort(entry + 12, (short) id);
        memory.writeShort(entry + 14, (short) (flags | availFlags(availWrap)));
        advanceAvail();
        slotsSinceKick++;
    }

    private void exposeFirst(int slot, int flags) {
        // §2.8.21.1: the first descriptor's flags are written last, after a barrier.
        VarHandle.releaseFence();
        memory.writeShort(desc + 16L * slot + 14, (short) flags);
    }

    private void advanceAvail() {
        if (++nextAvail == size) {
            nextAvail = 0;
            availWrap = !availWrap;
        }
    }

    private int allocateId() {
        if (freeTop == 0) {
            throw new IllegalStateException("driver: no free buffer ids");
        }
        int id = freeIds[--freeTop];
        allocated[id] = true;
        return id;
    }

    /** §2.8.10: driver event suppression, read by the device before notifying. */
    public void setDriverEvent(int flags, int offset, boolean wrap) {
        memory.writeShort(driverEvent, (short) (offset | (wrap ? 0x8000 : 0)));
        memory.writeShort(driverEvent + 2, (short) flags);
    }

    public int deviceEventFlags() {
        return Short.toUnsignedInt(memory.readShort(deviceEvent + 2));
    }

    public int deviceEventOffWrap() {
        return Short.toUnsignedInt(memory.readShort(deviceEvent));
    }

    public int nextUsedSlot() {
        return nextUsed;
    }

    public boolean usedWrap() {
        return usedWrap;
    }

    @Override
    public boolean pollUsed() {
        int flags = Short.toUnsignedInt(memory.readShort(desc + 16L * nextUsed + 14));
        boolean avail = (flags & AVAIL) != 0;
        boolean used = (flags & USED) != 0;
        if (avail != used || used != usedWrap) {
            return false;
        }
        VarHandle.acquireFence();
        long entry = desc + 16L * nextUsed;
        lastUsedId = Short.toUnsignedInt(memory.readShort(entry + 12));
        lastUsedLength = memory.readInt(entry + 8);
        int slots = lastUsedId < size ? Math.max(chainSlots[lastUsedId], 1) : 1;
        nextUsed += slots;
        if (nextUsed >= size) {
            nextUsed -= size;
            usedWrap = !usedWrap;
        }
        if (lastUsedId < size && allocated[lastUsedId]) {
            allocated[lastUsedId] = false;
            freeIds[freeTop++] = lastUsedId;
        }
        return true;
    }

    @Override
    public boolean kickNeeded() {
        VarHandle.fullFence();
        int added = slotsSinceKick;
        slotsSinceKick = 0;
        int flags = deviceEventFlags() & 3;
        if (flags != EVENT_DESC) {
            return flags != EVENT_DISABLE;
        }
        int offWrap = deviceEventOffWrap();
        int event = offWrap & 0x7fff;
        boolean wrap = (offWrap & 0x8000) != 0;
        if (wrap != availWrap) {
            event -= size;
        }
        int newIdx = nextAvail;
        int oldIdx = nextAvail - added;
        return ((newIdx - event - 1) & 0xffff) < ((newIdx - oldIdx) & 0xffff);
    }

    @Override
    public void enableUsedNotifications() {
        if (eventIdx) {
            setDriverEvent(EVENT_DESC, nextUsed, usedWrap);
        } else {
            setDriverEvent(EVENT_ENABLE, 0, false);
        }
    }

    @Override
    public void disableUsedNotifications() {
        setDriverEvent(EVENT_DISABLE, 0, false);
    }

    @Override
    public int freeCount() {
        return freeTop;
    }
}
