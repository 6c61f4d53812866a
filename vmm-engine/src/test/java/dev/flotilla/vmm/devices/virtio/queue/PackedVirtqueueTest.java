package dev.flotilla.vmm.devices.virtio.queue;

import dev.flotilla.vmm.devices.virtio.VirtioFeatures;
import dev.flotilla.vmm.devices.virtio.testing.GuestDriver;
import dev.flotilla.vmm.devices.virtio.testing.GuestDriver.Buffer;
import dev.flotilla.vmm.devices.virtio.testing.PackedRingDriver;
import dev.flotilla.vmm.memory.GuestMemory;
import dev.flotilla.vmm.memory.SegmentGuestMemory;
import org.junit.jupiter.api.Test;

import static dev.flotilla.vmm.devices.virtio.VirtioFeatures.bit;
import static org.junit.jupiter.api.Assertions.*;

class PackedVirtqueueTest {

    static final long MEMORY_SIZE = 1 << 20;
    static final long RING = 0x1000;
    static final long DATA = 0x10000;
    static final long TABLE = 0x8000;
    static final long PACKED = bit(VirtioFeatures.VERSION_1) | bit(VirtioFeatures.RING_PACKED);
    static final long INDIRECT = PACKED | bit(VirtioFeatures.INDIRECT_DESC);
    static final long EVENT_IDX = PACKED | bit(VirtioFeatures.EVENT_IDX);

    final GuestMemory memory = SegmentGuestMemory.ofHeap(MEMORY_SIZE);

    PackedRingDriver driver(int size, boolean eventIdx) {
        return GuestDriver.packed(memory, RING, size, eventIdx);
    }

    Virtqueue activate(GuestDriver driver, long features) throws InvalidQueueConfigException {
        return driver.configure(new QueueConfig(driver.size())).activate(memory, features, "test.q0");
    }

    @Test
    void activate_packedFeature_givesPackedQueue() throws Exception {
        assertTrue(activate(driver(8, false), PACKED).isPacked());
    }

    @Test
    void pop_chain_yieldsBuffersAndIdFromLastDescriptor() throws Exception {
        PackedRingDriver driver = driver(8, false);
        Virtqueue queue = activate(driver, PACKED);
        int id = driver.add(Buffer.readable(DATA, 16), Buffer.writable(DATA + 16, 32), Buffer.writable(DATA + 48, 32));

        DescriptorChain chain = queue.pop();

        assertNotNull(chain);
        assertEquals(id, chain.head());
        assertEquals(3, chain.ringSlots());
        assertEquals(1, chain.readableCount());
        assertEquals(64, chain.writableBytes());
        assertEquals(DATA + 48, chain.address(2));
    }

    @Test
    void roundTrip_chainsOfVaryingLength_wrapAroundManyTimes() throws Exception {
        PackedRingDriver driver = driver(5, false); // packed sizes need not be powers of two
        Virtqueue queue = activate(driver, PACKED);
        for (int i = 0; i < 10_000; i++) {
            int id = (i % 3 == 0)
                    ? driver.add(Buffer.readable(DATA, 4), Buffer.writable(DATA + 8, 8))
                    : driver.add(DATA, 8, true);
            DescriptorChain chain = queue.pop();
            assertNotNull(chain, "request " + i);
            assertEquals(id, chain.head());
            queue.pushUsed(chain, i % 100);
            queue.finishBatch();
            assertTrue(driver.pollUsed(), "used " + i);
            assertEquals(id, driver.lastUsedId());
            assertEquals(i % 100, driver.lastUsedLength());
        }
        assertFalse(queue.needsReset());
    }

    @Test
    void pushUsed_outOfOrderCompletion_driverSkipsByChainLength() throws Exception {
        PackedRingDriver driver = driver(8, false);
        Virtqueue queue = activate(driver, PACKED);
        int first = driver.add(Buffer.writable(DATA, 8), Buffer.writable(DATA + 8, 8));
        int second = driver.add(DATA + 16, 8, true);
        DescriptorChain a = queue.newChain();
        DescriptorChain b = queue.newChain();
        assertTrue(queue.pop(a));
        assertTrue(queue.pop(b));

        queue.pushUsed(b, 1);
        queue.pushUsed(a, 2);
        queue.finishBatch();

        assertTrue(driver.pollUsed());
        assertEquals(second, driver.lastUsedId());
        assertTrue(driver.pollUsed());
        assertEquals(first, driver.lastUsedId());
        assertEquals(2, driver.lastUsedLength());
        assertFalse(driver.pollUsed());
    }

    @Test
    void pushUsed_beforeFinishBatch_firstUsedDescriptorStillHidden() throws Exception {
        PackedRingDriver driver = driver(8, false);
        Virtqueue queue = activate(driver, PACKED);
        driver.add(DATA, 8, true);
        driver.add(DATA, 8, true);

        queue.pushUsed(queue.pop(), 8);
        queue.pushUsed(queue.pop(), 8);

        assertFalse(driver.pollUsed(), "the batch becomes visible only at finishBatch");
        queue.finishBatch();
        assertTrue(driver.pollUsed());
        assertTrue(driver.pollUsed());
    }

    @Test
    void pop_indirectTable_flattensItsBuffers() throws Exception {
        PackedRingDriver driver = driver(8, false);
        Virtqueue queue = activate(driver, INDIRECT);
        int id = driver.addIndirect(TABLE, Buffer.readable(DATA, 4), Buffer.writable(DATA + 4, 60));

        DescriptorChain chain = queue.pop();

        assertNotNull(chain);
        assertEquals(id, chain.head());
        assertEquals(1, chain.ringSlots());
        assertEquals(2, chain.count());
        assertEquals(60, chain.writableBytes());
    }

    @Test
    void finishBatch_driverEventDisable_suppressesNotification() throws Exception {
        PackedRingDriver driver = driver(8, false);
        Virtqueue queue = activate(driver, PACKED);
        driver.setDriverEvent(PackedRingDriver.EVENT_DISABLE, 0, false);
        driver.add(DATA, 8, true);

        queue.pushUsed(queue.pop(), 8);

        assertFalse(queue.finishBatch());
    }

    @Test
    void finishBatch_driverEventEnable_notifies() throws Exception {
        PackedRingDriver driver = driver(8, false);
        Virtqueue queue = activate(driver, PACKED);
        driver.setDriverEvent(PackedRingDriver.EVENT_ENABLE, 0, false);
        driver.add(DATA, 8, true);

        queue.pushUsed(queue.pop(), 8);

        assertTrue(queue.finishBatch());
    }

    @Test
    void finishBatch_descEventNotReached_suppressesNotification() throws Exception {
        PackedRingDriver driver = driver(8, true);
        Virtqueue queue = activate(driver, EVENT_IDX);
        driver.setDriverEvent(PackedRingDriver.EVENT_DESC, 4, true);
        for (int i = 0; i < 3; i++) {
            driver.add(DATA, 8, true);
        }

        DescriptorChain chain;
        while ((chain = queue.pop()) != null) {
            queue.pushUsed(chain, 8);
        }

        assertFalse(queue.finishBatch(), "used slots 0..2 do not reach slot 4");
    }

    @Test
    void finishBatch_descEventCrossed_notifies() throws Exception {
        PackedRingDriver driver = driver(8, true);
        Virtqueue queue = activate(driver, EVENT_IDX);
        driver.setDriverEvent(PackedRingDriver.EVENT_DESC, 2, true);
        for (int i = 0; i < 3; i++) {
            driver.add(DATA, 8, true);
        }

        DescriptorChain chain;
        while ((chain = queue.pop()) != null) {
            queue.pushUsed(chain, 8);
        }

        assertTrue(queue.finishBatch());
    }

    @Test
    void finishBatch_descEventInPreviousLapCrossedAcrossWrap_notifies() throws Exception {
        PackedRingDriver driver = driver(4, true);
        Virtqueue queue = activate(driver, EVENT_IDX);
        driver.setDriverEvent(PackedRingDriver.EVENT_DISABLE, 0, true);
        for (int i = 0; i < 3; i++) { // used position moves to slot 3, still wrap 1
            driver.add(DATA, 8, true);
            queue.pushUsed(queue.pop(), 8);
            queue.finishBatch();
            driver.pollUsed();
        }
        driver.setDriverEvent(PackedRingDriver.EVENT_DESC, 3, true); // slot 3 of the lap with wrap 1
        driver.add(DATA, 8, true);
        driver.add(DATA, 8, true);

        queue.pushUsed(queue.pop(), 8); // writes slot 3, wraps
        queue.pushUsed(queue.pop(), 8); // writes slot 0 of the next lap

        assertTrue(queue.finishBatch());
    }

    @Test
    void pop_drainedWithEventIdx_armsDeviceEventAtNextSlot() throws Exception {
        PackedRingDriver driver = driver(8, true);
        Virtqueue queue = activate(driver, EVENT_IDX);
        driver.add(DATA, 8, true);
        driver.add(Buffer.writable(DATA, 8), Buffer.writable(DATA, 8));

        while (queue.pop() != null) {
            // drain
        }

        assertEquals(PackedRingDriver.EVENT_DESC, driver.deviceEventFlags());
        assertEquals(3 | 0x8000, driver.deviceEventOffWrap());
        driver.kickNeeded();
        driver.add(DATA, 8, true);
        assertTrue(driver.kickNeeded());
    }

    @Test
    void pop_busyWithoutEventIdx_disablesKicksUntilDrained() throws Exception {
        PackedRingDriver driver = driver(8, false);
        Virtqueue queue = activate(driver, PACKED);
        driver.add(DATA, 8, true);
        driver.add(DATA, 8, true);

        assertNotNull(queue.pop());
        assertEquals(PackedRingDriver.EVENT_DISABLE, driver.deviceEventFlags());
        while (queue.pop() != null) {
            // drain
        }
        assertEquals(PackedRingDriver.EVENT_ENABLE, driver.deviceEventFlags());
    }

    @Test
    void activate_withoutEventIdx_deviceEventEnabled() throws Exception {
        PackedRingDriver driver = driver(8, false);
        memory.writeShort(driver.deviceAddress() + 2, (short) PackedRingDriver.EVENT_DISABLE);

        activate(driver, PACKED);

        assertEquals(PackedRingDriver.EVENT_ENABLE, driver.deviceEventFlags());
    }

    // ------------------------------------------------------------------ rejections

    private void assertChainRejected(Virtqueue queue, PackedRingDriver driver, int id, QueueRejection reason) {
        assertNull(queue.pop(), "a malformed chain is never handed to the device");
        assertEquals(1, queue.metrics().rejections(reason));
        assertFalse(queue.needsReset());
        queue.finishBatch();
        assertTrue(driver.pollUsed(), "the malformed chain is returned to the driver");
        assertEquals(id, driver.lastUsedId());
        assertEquals(0, driver.lastUsedLength());
    }

    @Test
    void pop_bufferOutsideMemory_rejected() throws Exception {
        PackedRingDriver driver = driver(8, false);
        Virtqueue queue = activate(driver, PACKED);
        int id = driver.add(Buffer.readable(DATA, 8), Buffer.writable(MEMORY_SIZE - 4, 8));

        assertChainRejected(queue, driver, id, QueueRejection.BUFFER_OUTSIDE_MEMORY);
    }

    @Test
    void pop_rejectedChainThenGoodChain_driverPositionsStayInStep() throws Exception {
        PackedRingDriver driver = driver(8, false);
        Virtqueue queue = activate(driver, PACKED);
        driver.add(Buffer.writable(MEMORY_SIZE, 8), Buffer.writable(DATA, 8), Buffer.writable(DATA, 8));
        int good = driver.add(DATA, 8, true);

        DescriptorChain chain = queue.pop();

        assertEquals(good, chain.head());
        queue.pushUsed(chain, 8);
        queue.finishBatch();
        assertTrue(driver.pollUsed());
        assertTrue(driver.pollUsed());
        assertEquals(good, driver.lastUsedId());
    }

    @Test
    void pop_indirectWithoutFeature_rejected() throws Exception {
        PackedRingDriver driver = driver(8, false);
        Virtqueue queue = activate(driver, PACKED);
        int id = driver.addIndirect(TABLE, Buffer.writable(DATA, 8));

        assertChainRejected(queue, driver, id, QueueRejection.INDIRECT_NOT_NEGOTIATED);
    }

    @Test
    void pop_nestedIndirect_rejected() throws Exception {
        PackedRingDriver driver = driver(8, false);
        Virtqueue queue = activate(driver, INDIRECT);
        memory.writeLong(TABLE, TABLE + 0x100);
        memory.writeInt(TABLE + 8, 16);
        memory.writeShort(TABLE + 14, (short) PackedRingDriver.INDIRECT);
        int id = driver.addRaw(TABLE, 16, PackedRingDriver.INDIRECT);

        assertChainRejected(queue, driver, id, QueueRejection.NESTED_INDIRECT);
    }

    @Test
    void pop_indirectTableBadLength_rejected() throws Exception {
        PackedRingDriver driver = driver(8, false);
        Virtqueue queue = activate(driver, INDIRECT);
        int id = driver.addRaw(TABLE, 24, PackedRingDriver.INDIRECT);

        assertChainRejected(queue, driver, id, QueueRejection.BAD_INDIRECT_TABLE);
    }

    @Test
    void pop_indirectTableLongerThanQueue_rejected() throws Exception {
        PackedRingDriver driver = driver(4, false);
        Virtqueue queue = activate(driver, INDIRECT);
        int id = driver.addRaw(TABLE, 16 * 5, PackedRingDriver.INDIRECT);

        assertChainRejected(queue, driver, id, QueueRejection.CHAIN_TOO_LONG);
    }

    @Test
    void pop_indirectInsideChain_rejected() throws Exception {
        PackedRingDriver driver = driver(8, false);
        Virtqueue queue = activate(driver, INDIRECT);
        driver.writeRawNext(DATA, 8, 0, PackedRingDriver.NEXT);
        driver.writeRawNext(TABLE, 16, 5, PackedRingDriver.INDIRECT); // buffer id 5 in the last descriptor

        assertNull(queue.pop());
        assertEquals(1, queue.metrics().rejections(QueueRejection.INDIRECT_WITH_NEXT));
        queue.finishBatch();
        assertTrue(driver.pollUsed());
        assertEquals(5, driver.lastUsedId());
    }

    @Test
    void pop_bufferIdOutOfRange_queueNeedsReset() throws Exception {
        PackedRingDriver driver = driver(8, false);
        Virtqueue queue = activate(driver, PACKED);
        driver.writeRawNext(DATA, 8, 8, PackedRingDriver.WRITE);

        assertNull(queue.pop());
        assertEquals(QueueRejection.HEAD_OUT_OF_RANGE, queue.failure());
    }

    @Test
    void pop_chainContinuesIntoUnavailableDescriptor_queueNeedsReset() throws Exception {
        PackedRingDriver driver = driver(8, false);
        Virtqueue queue = activate(driver, PACKED);
        driver.writeRawNext(DATA, 8, 0, PackedRingDriver.NEXT); // slot 1 never made available

        assertNull(queue.pop());
        assertEquals(QueueRejection.PACKED_CHAIN_INCOMPLETE, queue.failure());
    }

    @Test
    void pop_everyDescriptorChained_queueNeedsResetInsteadOfLooping() throws Exception {
        PackedRingDriver driver = driver(4, false);
        Virtqueue queue = activate(driver, PACKED);
        for (int i = 0; i < 4; i++) {
            driver.writeRawNext(DATA, 8, 0, PackedRingDriver.NEXT);
        }

        assertNull(queue.pop());
        assertEquals(QueueRejection.PACKED_CHAIN_INCOMPLETE, queue.failure());
    }
}
