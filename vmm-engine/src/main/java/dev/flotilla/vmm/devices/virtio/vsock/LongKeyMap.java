package dev.flotilla.vmm.devices.virtio.vsock;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;

/**
 * A map from primitive {@code long} keys to non-null values, open addressing with linear probing:
 * the device looks its connections up by (host port, guest port) on every packet, and a
 * {@code HashMap<Long, ...>} boxes a new Long for each lookup. Lookups and updates allocate nothing
 * until the table grows. Not thread-safe (the device's event loop owns it).
 */
final class LongKeyMap<V> {

    private long[] keys;
    private Object[] values;
    private int size;

    LongKeyMap() {
        keys = new long[16];
        values = new Object[16];
    }

    int size() {
        return size;
    }

    @SuppressWarnings("unchecked")
    V get(long key) {
        int mask = keys.length - 1;
        for (int i = slot(key, mask); values[i] != null; i = (i + 1) & mask) {
            if (keys[i] == key) {
                return (V) values[i];
            }
        }
        return null;
    }

    boolean containsKey(long key) {
        return get(key) != null;
    }

    /** Maps {@code key} to {@code value} (not null), replacing any previous value. */
    void put(long key, V value) {
        if (value == null) {
            throw new IllegalArgumentException("LongKeyMap holds no null values");
        }
        if ((size + 1) * 2 > keys.length) {
            grow();
        }
        int mask = keys.length - 1;
        int i = slot(key, mask);
        while (values[i] != null) {
            if (keys[i] == key) {
                values[i] = value;
                return;
            }
            i = (i + 1) & mask;
        }
        keys[i] = key;
        values[i] = value;
        size++;
    }

    /** Removes the mapping of {@code key} if it is {@code value}; true when it did. */
    boolean remove(long key, V value) {
        int mask = keys.length - 1;
        for (int i = slot(key, mask); values[i] != null; i = (i + 1) & mask) {
            if (keys[i] == key) {
                if (values[i] != value) {
                    return false;
                }
                deleteAt(i, mask);
                return true;
            }
        }
        return false;
    }

    /** The values, copied (callers close connections while iterating, which removes them). */
    @SuppressWarnings("unchecked")
    List<V> values() {
        List<V> out = new ArrayList<>(size);
        for (Object v : values) {
            if (v != null) {
                out.add((V) v);
            }
        }
        return out;
    }

    void clear() {
        Arrays.fill(values, null);
        size = 0;
    }

    /** Backward-shift deletion: later entries of the probe run move up, so no tombstones are needed. */
    private void deleteAt(int hole, int mask) {
        values[hole] = null;
        size--;
        for (int i = (hole + 1) & mask; values[i] != null; i = (i + 1) & mask) {
            int home = slot(keys[i], mask);
            // Move the entry into the hole unless its home lies cyclically within (hole, i].
            boolean homeAfterHole = hole <= i ? home > hole && home <= i : home > hole || home <= i;
            if (!homeAfterHole) {
                keys[hole] = keys[i];
                values[hole] = values[i];
                values[i] = null;
                hole = i;
            }
        }
    }

    private void grow() {
        long[] oldKeys = keys;
        Object[] oldValues = values;
        keys = new long[oldKeys.length * 2];
        values = new Object[oldValues.length * 2];
        size = 0;
        for (int i = 0; i < oldKeys.length; i++) {
            if (oldValues[i] != null) {
                @SuppressWarnings("unchecked")
                V v = (V) oldValues[i];
                put(oldKeys[i], v);
            }
        }
    }

    private static int slot(long key, int mask) {
        long h = key * 0x9E3779B97F4A7C15L;
        return (int) (h >>> 32) & mask;
    }
}
