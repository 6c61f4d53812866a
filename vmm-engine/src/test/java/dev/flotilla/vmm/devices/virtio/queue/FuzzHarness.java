package dev.flotilla.vmm.devices.virtio.queue;

import dev.flotilla.vmm.devices.virtio.VirtioFeatures;
import dev.flotilla.vmm.memory.GuestMemory;
import dev.flotilla.vmm.memory.MemoryRegion;
import dev.flotilla.vmm.memory.SegmentGuestMemory;

import java.lang.foreign.MemorySegment;
import java.nio.ByteBuffer;
import java.util.List;

import static dev.flotilla.vmm.devices.virtio.VirtioFeatures.bit;

/**
 * Drives a queue over a fuzz input the way a device does (pop, push used, finish batches), with
 * the input's guest writes landing between passes, and checks the queue's promises on every
 * chain it hands out. Any exception escaping is a bug.
 */
final class FuzzHarness {
    private FuzzHarness() {}

    /** What happened, for statistics in the property test. */
    record Outcome(long popped, long rejected, boolean needsReset, QueueMetrics metrics) {}

    static Outcome run(FuzzCase c) throws InvalidQueueConfigException {
        GuestMemory memory = new SegmentGuestMemory(List.of(new MemoryRegion(0, MemorySegment.ofArray(c.memory().clone()))));
        long features = bit(VirtioFeatures.VERSION_1)
                | (c.packed() ? bit(VirtioFeatures.RING_PACKED) : 0)
                | (c.indirect() ? bit(VirtioFeatures.INDIRECT_DESC) : 0)
                | (c.eventIdx() ? bit(VirtioFeatures.EVENT_IDX) : 0);
        QueueConfig config = new QueueConfig(Math.max(c.size(), 1));
        config.setSize(c.size());
        config.setDescAddress(c.desc());
        config.setDriverAddress(c.driver());
        config.setDeviceAddress(c.device());
        Virtqueue queue;
        try {
            queue = config.activate(memory, features, "fuzz.q0");
        } catch (InvalidQueueConfigException e) {
            return new Outcome(0, 1, true, config.metrics());
        }
        ByteBuffer mutations = ByteBuffer.wrap(c.mutations());
        int rounds = 4 * c.size() + 8;
        for (int round = 0; round < rounds && !queue.needsReset(); round++) {
            DescriptorChain chain = queue.pop();
            if (chain != null) {
                checkInvariants(chain, queue, memory);
                queue.pushUsed(chain, (int) Math.min(chain.writableBytes(), Integer.MAX_VALUE));
            }
            if (round % 3 == 2 || chain == null) {
                queue.finishBatch();
            }
            if (mutations.remaining() >= 5) {
                int offset = mutations.getInt();
                byte value = mutations.get();
                if (offset >= 0 && offset < memory.totalSize()) {
                    memory.writeByte(offset, value);
                }
            }
        }
        queue.finishBatch();
        QueueMetrics m = queue.metrics();
        return new Outcome(m.chainsPopped(), m.totalRejections(), queue.needsReset(), m);
    }

    private static void checkInvariants(DescriptorChain chain, Virtqueue queue, GuestMemory memory) {
        if (chain.count() < 1 || chain.count() > queue.size()) {
            throw new AssertionError("chain of %d buffers from a queue of %d".formatted(chain.count(), queue.size()));
        }
        if (chain.head() < 0 || chain.head() >= queue.size()) {
            throw new AssertionError("head " + chain.head() + " out of range");
        }
        for (int i = 0; i < chain.count(); i++) {
            if (!memory.contains(chain.address(i), Integer.toUnsignedLong(chain.length(i)))) {
                throw new AssertionError("buffer %d outside guest memory".formatted(i));
            }
            if (chain.isWritable(i) != (i >= chain.firstWritable())) {
                throw new AssertionError("writable buffers not after readable ones");
            }
        }
    }
}
