package dev.flotilla.vmm.devices.virtio.rng;

import dev.flotilla.vmm.logging.RateLimitedLog;
import dev.flotilla.vmm.devices.virtio.VirtioDevice;
import dev.flotilla.vmm.devices.virtio.VirtioFeatures;
import dev.flotilla.vmm.devices.virtio.VirtioInterrupt;
import dev.flotilla.vmm.devices.virtio.queue.DescriptorChain;
import dev.flotilla.vmm.devices.virtio.queue.Virtqueue;
import dev.flotilla.vmm.memory.GuestMemory;
import dev.flotilla.vmm.memory.GuestMemoryException;

import java.util.List;
import java.util.Objects;

/**
 * virtio-rng, the entropy device (virtio 1.2 §5.4): one queue ("requestq"); the driver posts
 * device-writable buffers and the device fills them with random bytes. No feature bits of its
 * own and no configuration space.
 */
public final class VirtioRng implements VirtioDevice {

    /** §5.4.1: Device ID 4, "Entropy device". */
    public static final int DEVICE_TYPE = 4;
    /** Queue size offered. Linux's driver keeps one request in flight; 256 leaves room for others. */
    public static final int QUEUE_SIZE = 256;
    /**
     * Bytes filled per request at most. A hostile driver can post one chain covering gigabytes of
     * its RAM; filling it would hold this VM's event loop (and every other device on it) for
     * seconds. Linux asks for at most a few hundred bytes per request (its hwrng buffer), so
     * 64 KiB never shortens an honest request; §5.4.6.1 lets the device write less than asked.
     */
    public static final int MAX_BYTES_PER_REQUEST = 64 * 1024;
    private static final int SCRATCH_SIZE = 4096;

    private static final RateLimitedLog LOG = RateLimitedLog.forClass(VirtioRng.class);

    private final EntropySource entropy;
    private final byte[] scratch = new byte[SCRATCH_SIZE];
    /** Next unused byte of {@link #scratch}; random bytes are never handed out twice. */
    private int scratchPosition = SCRATCH_SIZE;

    private Virtqueue queue;
    private GuestMemory memory;
    private VirtioInterrupt interrupt;

    private volatile long requests;
    private volatile long bytesProvided;
    private volatile long requestsWithoutWritableBuffer;

    public VirtioRng(EntropySource entropy) {
        this.entropy = Objects.requireNonNull(entropy);
    }

    public VirtioRng() {
        this(EntropySource.secureRandom());
    }

    @Override
    public int deviceType() {
        return DEVICE_TYPE;
    }

    @Override
    public long offeredFeatures() {
        return VirtioFeatures.QUEUE_FEATURES;
    }

    @Override
    public int queueCount() {
        return 1;
    }

    @Override
    public int queueMaxSize(int index) {
        return QUEUE_SIZE;
    }

    @Override
    public int configSize() {
        return 0;
    }

    @Override
    public long readConfig(int offset, int size) {
        return 0;
    }

    @Override
    public void writeConfig(int offset, int size, long value) {
        // §5.4.4: no configuration space.
    }

    @Override
    public void activate(List<Virtqueue> queues, long negotiatedFeatures, GuestMemory memory, VirtioInterrupt interrupt) {
        this.queue = queues.getFirst();
        this.memory = memory;
        this.interrupt = interrupt;
    }

    @Override
    public void processQueue(int index) {
        Virtqueue q = queue;
        if (q == null || index != 0) {
            return;
        }
        DescriptorChain chain;
        while ((chain = q.pop()) != null) {
            q.pushUsed(chain, fill(chain));
        }
        if (q.finishBatch()) {
            interrupt.signalUsedBuffers();
        }
    }

    /** Fills the chain's writable buffers, up to the per-request cap; returns bytes written. */
    private int fill(DescriptorChain chain) {
        requests = requests + 1;
        if (chain.writableCount() == 0) {
            // Nothing to fill: complete it with length 0 so the driver gets its buffer back.
            requestsWithoutWritableBuffer = requestsWithoutWritableBuffer + 1;
            if (LOG.shouldLog()) {
                LOG.warn("virtio-rng %s: request without a device-writable buffer; completed empty".formatted(queue.name()));
            }
            return 0;
        }
        int budget = MAX_BYTES_PER_REQUEST;
        int written = 0;
        try {
            for (int i = chain.firstWritable(); i < chain.count() && budget > 0; i++) {
                long address = chain.address(i);
                long remaining = Math.min(Integer.toUnsignedLong(chain.length(i)), budget);
                while (remaining > 0) {
                    if (scratchPosition == SCRATCH_SIZE) {
                        entropy.fill(scratch);
                        scratchPosition = 0;
                    }
                    int n = (int) Math.min(remaining, SCRATCH_SIZE - scratchPosition);
                    memory.write(address, scratch, scratchPosition, n);
                    scratchPosition += n;
                    address += n;
                    remaining -= n;
                    written += n;
                    budget -= n;
                }
            }
        } catch (GuestMemoryException e) {
            // Buffers were validated when popped; only a memory layout change gets here.
            if (LOG.shouldLog()) {
                LOG.warn("virtio-rng %s: %s; request completed with the bytes written so far".formatted(queue.name(), e.getMessage()));
            }
        }
        bytesProvided = bytesProvided + written;
        return written;
    }

    @Override
    public void reset() {
        queue = null;
        memory = null;
        interrupt = null;
    }

    public long requests() {
        return requests;
    }

    public long bytesProvided() {
        return bytesProvided;
    }

    public long requestsWithoutWritableBuffer() {
        return requestsWithoutWritableBuffer;
    }
}
