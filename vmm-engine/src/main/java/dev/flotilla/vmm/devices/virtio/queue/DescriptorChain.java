package dev.flotilla.vmm.devices.virtio.queue;

/**
 * One request taken from a virtqueue: its buffers, already validated (every buffer inside guest
 * memory, device-readable ones before device-writable ones, indirect tables flattened, length
 * bounded by the queue size). Index-based access, so iterating allocates nothing.
 *
 * <p>Instances are reusable: {@link Virtqueue#pop(DescriptorChain)} overwrites one in place. A
 * device that keeps requests in flight owns a pool of them ({@link Virtqueue#newChain()}).
 */
public final class DescriptorChain {

    /** Most requests (a virtio-net packet, a vsock packet, a small block request) take a few buffers. */
    private static final int INITIAL_CAPACITY = 8;

    /** Buffers so far; grown on demand up to {@code capacity}, so a pool of chains for a large queue stays small. */
    private long[] addresses;
    private int[] lengths;
    private final int capacity;
    private int count;
    private int readableCount;
    private long readableBytes;
    private long writableBytes;
    private int head;
    private int ringSlots;

    DescriptorChain(int capacity) {
        this.capacity = capacity;
        int initial = Math.min(capacity, INITIAL_CAPACITY);
        addresses = new long[initial];
        lengths = new int[initial];
    }

    void clear() {
        count = 0;
        readableCount = 0;
        readableBytes = 0;
        writableBytes = 0;
    }

    void start(int head) {
        clear();
        this.head = head;
        this.ringSlots = 0;
    }

    /** False when the chain is full (caller rejects as too long). */
    boolean add(long address, int length, boolean writable) {
        if (count == addresses.length) {
            if (count == capacity) {
                return false;
            }
            // Once per chain object and size class: a long chain's arrays are kept for the next one.
            int grown = Math.min(capacity, count * 2);
            addresses = java.util.Arrays.copyOf(addresses, grown);
            lengths = java.util.Arrays.copyOf(lengths, grown);
        }
        addresses[count] = address;
        lengths[count] = length;
        count++;
        long unsignedLength = Integer.toUnsignedLong(length);
        if (writable) {
            writableBytes += unsignedLength;
        } else {
            readableCount++;
            readableBytes += unsignedLength;
        }
        return true;
    }

    void setHead(int head) {
        this.head = head;
    }

    void setRingSlots(int ringSlots) {
        this.ringSlots = ringSlots;
    }

    int capacity() {
        return capacity;
    }

    /**
     * The value the used element carries back: the head descriptor index (split, §2.7.8) or the
     * buffer ID (packed, §2.8.6).
     */
    public int head() {
        return head;
    }

    /** Descriptors this chain occupied in a packed ring (the used descriptor skips them, §2.8.6); 1 for split. */
    public int ringSlots() {
        return ringSlots;
    }

    /** Buffers in the chain, readable ones first. */
    public int count() {
        return count;
    }

    public int readableCount() {
        return readableCount;
    }

    public int writableCount() {
        return count - readableCount;
    }

    /** Guest physical address of buffer {@code i}. */
    public long address(int i) {
        java.util.Objects.checkIndex(i, count);
        return addresses[i];
    }

    /** Length of buffer {@code i} in bytes (at most 2^32 - 1: read it with {@link Integer#toUnsignedLong}). */
    public int length(int i) {
        java.util.Objects.checkIndex(i, count);
        return lengths[i];
    }

    public boolean isWritable(int i) {
        java.util.Objects.checkIndex(i, count);
        return i >= readableCount;
    }

    /** Index of the first device-writable buffer (== count() when there is none). */
    public int firstWritable() {
        return readableCount;
    }

    public long readableBytes() {
        return readableBytes;
    }

    public long writableBytes() {
        return writableBytes;
    }

    @Override
    public String toString() {
        return "DescriptorChain[head=%d, readable=%d (%d bytes), writable=%d (%d bytes)]"
                .formatted(head, readableCount, readableBytes, writableCount(), writableBytes);
    }
}
