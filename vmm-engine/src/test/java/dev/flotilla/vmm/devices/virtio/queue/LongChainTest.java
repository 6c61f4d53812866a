package dev.flotilla.vmm.devices.virtio.queue;

import dev.flotilla.vmm.devices.virtio.VirtioFeatures;
import dev.flotilla.vmm.devices.virtio.testing.GuestDriver;
import dev.flotilla.vmm.devices.virtio.testing.GuestDriver.Buffer;
import dev.flotilla.vmm.memory.GuestMemory;
import dev.flotilla.vmm.memory.SegmentGuestMemory;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

import static dev.flotilla.vmm.devices.virtio.VirtioFeatures.bit;
import static org.junit.jupiter.api.Assertions.*;

/** A chain as long as the queue, in both ring layouts: what the per-layout tests do not reach. */
class LongChainTest {

    static final long RING = 0x1000;
    static final long DATA = 0x10000;
    static final long TABLE = 0x8000;

    final GuestMemory memory = SegmentGuestMemory.ofHeap(1 << 20);

    @ParameterizedTest(name = "packed={0}")
    @ValueSource(booleans = {false, true})
    void pop_indirectTableAsLongAsTheQueue_keepsEveryBufferInOrder(boolean packed) throws Exception {
        // 256 buffers: the chain object grows past its first arrays, and the table is read in one copy.
        GuestDriver driver = packed ? GuestDriver.packed(memory, RING, 256, false) : GuestDriver.split(memory, RING, 256, false);
        long features = bit(VirtioFeatures.VERSION_1) | bit(VirtioFeatures.INDIRECT_DESC)
                | (packed ? bit(VirtioFeatures.RING_PACKED) : 0);
        Virtqueue queue = driver.configure(new QueueConfig(driver.size())).activate(memory, features, "test.q0");
        assertEquals(packed, queue.isPacked());
        Buffer[] buffers = new Buffer[256];
        for (int i = 0; i < buffers.length; i++) {
            buffers[i] = new Buffer(DATA + 16L * i, 16 + i, i >= 200);
        }
        driver.addIndirect(TABLE, buffers);

        DescriptorChain chain = queue.pop();

        assertNotNull(chain);
        assertEquals(256, chain.count());
        assertEquals(200, chain.readableCount());
        for (int i = 0; i < buffers.length; i++) {
            assertEquals(buffers[i].address(), chain.address(i));
            assertEquals(buffers[i].length(), chain.length(i));
        }
        // The same chain object then carries a short chain, nothing left over from the long one.
        queue.pushUsed(chain, 0);
        driver.add(Buffer.readable(DATA, 8));
        chain = queue.pop();
        assertNotNull(chain);
        assertEquals(1, chain.count());
        assertEquals(8, chain.readableBytes());
    }
}
