package dev.flotilla.vmm.devices.virtio.vsock;

import dev.flotilla.vmm.memory.GuestMemory;

/**
 * A bounded FIFO of bytes. Storage grows on demand up to the bound, so an idle connection costs
 * little heap however large its window. Not thread-safe: the owning connection's lock guards it.
 */
final class ByteRing {

    private static final int INITIAL = 4096;

    private final int capacity;
    private byte[] data = new byte[0];
    private int head;
    private int size;

    ByteRing(int capacity) {
        if (capacity < 1) {
            throw new IllegalArgumentException("capacity must be positive");
        }
        this.capacity = capacity;
    }

    int capacity() {
        return capacity;
    }

    int size() {
        return size;
    }

    int free() {
        return capacity - size;
    }

    boolean isEmpty() {
        return size == 0;
    }

    /** Appends up to {@code length} bytes; returns how many fitted. */
    int write(byte[] src, int offset, int length) {
        int n = Math.min(length, free());
        if (n == 0) {
            return 0;
        }
        ensure(size + n);
        int tail = (head + size) % data.length;
        int first = Math.min(n, data.length - tail);
        System.arraycopy(src, offset, data, tail, first);
        System.arraycopy(src, offset + first, data, 0, n - first);
        size += n;
        return n;
    }

    /**
     * Appends up to {@code length} bytes straight from guest memory at {@code address}; returns how many
     * fitted. A guest memory fault leaves the ring as it was.
     */
    int write(GuestMemory memory, long address, int length) {
        int n = Math.min(length, free());
        if (n == 0) {
            return 0;
        }
        ensure(size + n);
        int tail = (head + size) % data.length;
        int first = Math.min(n, data.length - tail);
        memory.read(address, data, tail, first);
        if (n > first) {
            memory.read(address + first, data, 0, n - first);
        }
        size += n;
        return n;
    }

    /** Copies {@code length} bytes, starting {@code from} bytes into the ring, to guest memory at {@code address}. */
    void peek(int from, GuestMemory memory, long address, int length) {
        if (from < 0 || length < 0 || from + length > size) {
            throw new IndexOutOfBoundsException("bytes " + from + "+" + length + " of a ring holding " + size);
        }
        if (length == 0) {
            return;
        }
        int start = (head + from) % data.length;
        int first = Math.min(length, data.length - start);
        memory.write(address, data, start, first);
        if (length > first) {
            memory.write(address + first, data, 0, length - first);
        }
    }

    /** Copies up to {@code length} bytes out without consuming them. */
    int peek(byte[] dst, int offset, int length) {
        int n = Math.min(length, size);
        if (n == 0) {
            return 0;
        }
        int first = Math.min(n, data.length - head);
        System.arraycopy(data, head, dst, offset, first);
        System.arraycopy(data, 0, dst, offset + first, n - first);
        return n;
    }

    /** Drops up to {@code length} bytes from the front. */
    int skip(int length) {
        int n = Math.min(length, size);
        head = size == n ? 0 : (head + n) % data.length;
        size -= n;
        return n;
    }

    int read(byte[] dst, int offset, int length) {
        return skip(peek(dst, offset, length));
    }

    /** Drops bytes from the back until {@code length} remain (undoes a partial append). */
    void truncate(int length) {
        if (length < size) {
            size = Math.max(0, length);
        }
    }

    void clear() {
        head = 0;
        size = 0;
        data = new byte[0];
    }

    private void ensure(int needed) {
        if (needed <= data.length) {
            return;
        }
        int grown = Math.max(INITIAL, data.length);
        while (grown < needed) {
            grown = Math.min(capacity, grown * 2);
            if (grown == capacity) {
                break;
            }
        }
        grown = Math.min(Math.max(grown, needed), capacity);
        byte[] bigger = new byte[grown];
        peek(bigger, 0, size);
        data = bigger;
        head = 0;
    }
}
