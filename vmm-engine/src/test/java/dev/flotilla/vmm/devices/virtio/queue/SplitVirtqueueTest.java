package dev.flotilla.vmm.devices.virtio.queue;

import dev.flotilla.vmm.devices.virtio.VirtioFeatures;
import dev.flotilla.vmm.devices.virtio.testing.GuestDriver;
import dev.flotilla.vmm.devices.virtio.testing.GuestDriver.Buffer;
import dev.flotilla.vmm.devices.virtio.testing.SplitRingDriver;
import dev.flotilla.vmm.memory.GuestMemory;
import dev.flotilla.vmm.memory.SegmentGuestMemory;
import org.junit.jupiter.api.Test;

import static dev.flotilla.vmm.devices.virtio.VirtioFeatures.bit;
import static org.junit.jupiter.api.Assertions.*;

class SplitVirtqueueTest {

    static final long MEMORY_SIZE = 1 << 20;
    static final long RING = 0x1000;
    static final long DATA = 0x10000;
    static final long TABLE = 0x8000;
    static final long BASIC = bit(VirtioFeatures.VERSION_1);
    static final long INDIRECT = BASIC | bit(VirtioFeatures.INDIRECT_DESC);
    static final long EVENT_IDX = BASIC | bit(VirtioFeatures.EVENT_IDX);

    final GuestMemory memory = SegmentGuestMemory.ofHeap(MEMORY_SIZE);

    SplitRingDriver driver(int size, boolean eventIdx) {
        return GuestDriver.split(memory, RING, size, eventIdx);
    }

    Virtqueue activate(GuestDriver driver, long features) throws InvalidQueueConfigException {
        return driver.configure(new QueueConfig(driver.size())).activate(memory, features, "test.q0");
    }

    @Test
    void pop_chainOfReadableAndWritable_yieldsBuffersInOrder() throws Exception {
        SplitRingDriver driver = driver(8, false);
        Virtqueue queue = activate(driver, BASIC);
        int head = driver.add(Buffer.readable(DATA, 16), Buffer.readable(DATA + 16, 8), Buffer.writable(DATA + 0x100, 64));

        DescriptorChain chain = queue.pop();

        assertNotNull(chain);
        assertEquals(head, chain.head());
        assertEquals(3, chain.count());
        assertEquals(2, chain.readableCount());
        assertEquals(1, chain.writableCount());
        assertEquals(DATA + 16, chain.address(1));
        assertEquals(64, chain.length(2));
        assertTrue(chain.isWritable(2));
        assertEquals(24, chain.readableBytes());
        assertEquals(64, chain.writableBytes());
    }

    @Test
    void pushUsed_thenFinishBatch_driverSeesIdAndLength() throws Exception {
        SplitRingDriver driver = driver(8, false);
        Virtqueue queue = activate(driver, BASIC);
        int head = driver.add(DATA, 32, true);

        queue.pushUsed(queue.pop(), 20);
        boolean notify = queue.finishBatch();

        assertTrue(notify);
        assertTrue(driver.pollUsed());
        assertEquals(head, driver.lastUsedId());
        assertEquals(20, driver.lastUsedLength());
    }

    @Test
    void pushUsed_beforeFinishBatch_usedIndexNotPublished() throws Exception {
        SplitRingDriver driver = driver(8, false);
        Virtqueue queue = activate(driver, BASIC);
        driver.add(DATA, 32, true);
        driver.add(DATA + 32, 32, true);

        queue.pushUsed(queue.pop(), 1);
        queue.pushUsed(queue.pop(), 2);

        assertEquals(0, driver.usedIdx());
        queue.finishBatch();
        assertEquals(2, driver.usedIdx());
    }

    @Test
    void pop_emptyQueue_returnsNull() throws Exception {
        Virtqueue queue = activate(driver(8, false), BASIC);

        assertNull(queue.pop());
        assertFalse(queue.finishBatch());
    }

    @Test
    void roundTrip_manyMoreRequestsThanQueueSize_indicesWrap() throws Exception {
        SplitRingDriver driver = driver(4, false);
        Virtqueue queue = activate(driver, BASIC);
        for (int i = 0; i < 70_000; i++) {
            driver.add(DATA, 8, true);
            DescriptorChain chain = queue.pop();
            queue.pushUsed(chain, i & 7);
            queue.finishBatch();
            assertTrue(driver.pollUsed());
            assertEquals(i & 7, driver.lastUsedLength());
        }
        assertEquals(70_000, queue.metrics().chainsPopped());
        assertFalse(queue.needsReset());
    }

    @Test
    void pop_indirectTable_flattensItsBuffers() throws Exception {
        SplitRingDriver driver = driver(8, false);
        Virtqueue queue = activate(driver, INDIRECT);
        driver.addIndirect(TABLE, Buffer.readable(DATA, 4), Buffer.readable(DATA + 4, 4), Buffer.writable(DATA + 8, 100));

        DescriptorChain chain = queue.pop();

        assertNotNull(chain);
        assertEquals(3, chain.count());
        assertEquals(DATA + 4, chain.address(1));
        assertEquals(100, chain.writableBytes());
    }

    @Test
    void finishBatch_eventIdxUsedEventNotReached_suppressesNotification() throws Exception {
        SplitRingDriver driver = driver(8, true);
        Virtqueue queue = activate(driver, EVENT_IDX);
        driver.setUsedEvent(5); // "interrupt me once used->idx passes 5"
        for (int i = 0; i < 3; i++) {
            driver.add(DATA, 8, true);
        }

        DescriptorChain chain;
        while ((chain = queue.pop()) != null) {
            queue.pushUsed(chain, 8);
        }

        assertFalse(queue.finishBatch());
        assertEquals(1, queue.metrics().notificationsSuppressed());
    }

    @Test
    void finishBatch_eventIdxUsedEventCrossedInBatch_notifiesOnce() throws Exception {
        SplitRingDriver driver = driver(8, true);
        Virtqueue queue = activate(driver, EVENT_IDX);
        driver.setUsedEvent(2);
        for (int i = 0; i < 5; i++) {
            driver.add(DATA, 8, true);
        }

        DescriptorChain chain;
        while ((chain = queue.pop()) != null) {
            queue.pushUsed(chain, 8);
        }

        assertTrue(queue.finishBatch());
        assertEquals(1, queue.metrics().notificationsSent());
    }

    @Test
    void finishBatch_noInterruptFlagWithoutEventIdx_suppressesNotification() throws Exception {
        SplitRingDriver driver = driver(8, false);
        Virtqueue queue = activate(driver, BASIC);
        driver.setNoInterrupt(true);
        driver.add(DATA, 8, true);

        queue.pushUsed(queue.pop(), 8);

        assertFalse(queue.finishBatch());
    }

    @Test
    void finishBatch_noInterruptFlagWithEventIdx_flagIgnored() throws Exception {
        SplitRingDriver driver = driver(8, true);
        Virtqueue queue = activate(driver, EVENT_IDX);
        driver.setNoInterrupt(true);
        driver.setUsedEvent(0);
        driver.add(DATA, 8, true);

        queue.pushUsed(queue.pop(), 8);

        assertTrue(queue.finishBatch());
    }

    @Test
    void pop_drainedWithEventIdx_writesAvailEventSoDriverKicksForNextBuffer() throws Exception {
        SplitRingDriver driver = driver(8, true);
        Virtqueue queue = activate(driver, EVENT_IDX);
        driver.add(DATA, 8, true);
        driver.add(DATA, 8, true);
        assertTrue(driver.kickNeeded()); // avail_event 0 crossed

        while (queue.pop() != null) {
            // drain
        }

        assertEquals(2, driver.availEvent());
        driver.add(DATA, 8, true);
        assertTrue(driver.kickNeeded());
    }

    @Test
    void pop_notDrainedWithEventIdx_driverNeedNotKickAgain() throws Exception {
        SplitRingDriver driver = driver(8, true);
        Virtqueue queue = activate(driver, EVENT_IDX);
        driver.add(DATA, 8, true);
        driver.add(DATA, 8, true);
        driver.kickNeeded();

        assertNotNull(queue.pop()); // device busy with the first; has not drained
        driver.add(DATA, 8, true);

        assertFalse(driver.kickNeeded());
    }

    @Test
    void pop_busyWithoutEventIdx_setsNoNotifySoDriverDoesNotKick() throws Exception {
        SplitRingDriver driver = driver(8, false);
        Virtqueue queue = activate(driver, BASIC);
        driver.add(DATA, 8, true);
        driver.add(DATA, 8, true);
        driver.kickNeeded();

        assertNotNull(queue.pop());
        driver.add(DATA, 8, true);

        assertFalse(driver.kickNeeded());
    }

    @Test
    void pop_drainedWithoutEventIdx_clearsNoNotifySoDriverKicksAgain() throws Exception {
        SplitRingDriver driver = driver(8, false);
        Virtqueue queue = activate(driver, BASIC);
        driver.add(DATA, 8, true);

        while (queue.pop() != null) {
            // drain
        }
        driver.add(DATA, 8, true);

        assertTrue(driver.kickNeeded());
    }

    // ------------------------------------------------------------------ rejections

    private void assertChainRejected(Virtqueue queue, SplitRingDriver driver, int head, QueueRejection reason) {
        assertNull(queue.pop(), "a malformed chain is never handed to the device");
        assertEquals(1, queue.metrics().rejections(reason));
        assertFalse(queue.needsReset());
        queue.finishBatch();
        assertTrue(driver.pollUsed(), "the malformed chain is returned to the driver");
        assertEquals(head, driver.lastUsedId());
        assertEquals(0, driver.lastUsedLength());
    }

    @Test
    void pop_descriptorLoop_rejectedAsLoop() throws Exception {
        SplitRingDriver driver = driver(8, false);
        Virtqueue queue = activate(driver, BASIC);
        driver.writeDescriptor(0, DATA, 8, SplitRingDriver.NEXT, 1);
        driver.writeDescriptor(1, DATA, 8, SplitRingDriver.NEXT, 0);
        driver.publish(0);

        assertChainRejected(queue, driver, 0, QueueRejection.LOOP);
    }

    @Test
    void pop_selfLoop_rejectedAsLoop() throws Exception {
        SplitRingDriver driver = driver(8, false);
        Virtqueue queue = activate(driver, BASIC);
        driver.writeDescriptor(3, DATA, 8, SplitRingDriver.NEXT, 3);
        driver.publish(3);

        assertChainRejected(queue, driver, 3, QueueRejection.LOOP);
    }

    @Test
    void pop_indirectTableLongerThanQueue_rejectedAsTooLong() throws Exception {
        SplitRingDriver driver = driver(4, false);
        Virtqueue queue = activate(driver, INDIRECT);
        Buffer[] five = new Buffer[5];
        for (int i = 0; i < five.length; i++) {
            five[i] = Buffer.writable(DATA + 16L * i, 16);
        }
        int head = driver.addIndirect(TABLE, five);

        assertChainRejected(queue, driver, head, QueueRejection.CHAIN_TOO_LONG);
    }

    @Test
    void pop_directChainPlusIndirectLongerThanQueue_rejectedAsTooLong() throws Exception {
        SplitRingDriver driver = driver(4, false);
        Virtqueue queue = activate(driver, INDIRECT);
        for (int i = 0; i < 4; i++) {
            memory.writeLong(TABLE + 16L * i, DATA);
            memory.writeInt(TABLE + 16L * i + 8, 8);
            memory.writeShort(TABLE + 16L * i + 12, (short) (i < 3 ? SplitRingDriver.NEXT : 0));
            memory.writeShort(TABLE + 16L * i + 14, (short) (i + 1));
        }
        driver.writeDescriptor(0, DATA, 8, SplitRingDriver.NEXT, 1);
        driver.writeDescriptor(1, TABLE, 64, SplitRingDriver.INDIRECT, 0);
        driver.publish(0);

        assertChainRejected(queue, driver, 0, QueueRejection.CHAIN_TOO_LONG);
    }

    @Test
    void pop_bufferOutsideMemory_rejected() throws Exception {
        SplitRingDriver driver = driver(8, false);
        Virtqueue queue = activate(driver, BASIC);
        int head = driver.add(Buffer.writable(MEMORY_SIZE - 8, 16));

        assertChainRejected(queue, driver, head, QueueRejection.BUFFER_OUTSIDE_MEMORY);
    }

    @Test
    void pop_bufferAddressNearOverflow_rejected() throws Exception {
        SplitRingDriver driver = driver(8, false);
        Virtqueue queue = activate(driver, BASIC);
        int head = driver.add(Buffer.writable(-16L, 32));

        assertChainRejected(queue, driver, head, QueueRejection.BUFFER_OUTSIDE_MEMORY);
    }

    @Test
    void pop_nextBeyondTable_rejected() throws Exception {
        SplitRingDriver driver = driver(8, false);
        Virtqueue queue = activate(driver, BASIC);
        driver.writeDescriptor(2, DATA, 8, SplitRingDriver.NEXT, 8);
        driver.publish(2);

        assertChainRejected(queue, driver, 2, QueueRejection.NEXT_OUT_OF_RANGE);
    }

    @Test
    void pop_readableAfterWritable_rejected() throws Exception {
        SplitRingDriver driver = driver(8, false);
        Virtqueue queue = activate(driver, BASIC);
        int head = driver.add(Buffer.writable(DATA, 8), Buffer.readable(DATA, 8));

        assertChainRejected(queue, driver, head, QueueRejection.READABLE_AFTER_WRITABLE);
    }

    @Test
    void pop_indirectWithoutFeature_rejected() throws Exception {
        SplitRingDriver driver = driver(8, false);
        Virtqueue queue = activate(driver, BASIC);
        int head = driver.addIndirect(TABLE, Buffer.writable(DATA, 8));

        assertChainRejected(queue, driver, head, QueueRejection.INDIRECT_NOT_NEGOTIATED);
    }

    @Test
    void pop_nestedIndirect_rejected() throws Exception {
        SplitRingDriver driver = driver(8, false);
        Virtqueue queue = activate(driver, INDIRECT);
        // The table's only entry points at another table.
        memory.writeLong(TABLE, TABLE + 0x100);
        memory.writeInt(TABLE + 8, 16);
        memory.writeShort(TABLE + 12, (short) SplitRingDriver.INDIRECT);
        driver.writeDescriptor(0, TABLE, 16, SplitRingDriver.INDIRECT, 0);
        driver.publish(0);

        assertChainRejected(queue, driver, 0, QueueRejection.NESTED_INDIRECT);
    }

    @Test
    void pop_indirectWithNextFlag_rejected() throws Exception {
        SplitRingDriver driver = driver(8, false);
        Virtqueue queue = activate(driver, INDIRECT);
        driver.writeDescriptor(0, TABLE, 16, SplitRingDriver.INDIRECT | SplitRingDriver.NEXT, 1);
        driver.publish(0);

        assertChainRejected(queue, driver, 0, QueueRejection.INDIRECT_WITH_NEXT);
    }

    @Test
    void pop_indirectTableLengthNotMultipleOf16_rejected() throws Exception {
        SplitRingDriver driver = driver(8, false);
        Virtqueue queue = activate(driver, INDIRECT);
        driver.writeDescriptor(0, TABLE, 20, SplitRingDriver.INDIRECT, 0);
        driver.publish(0);

        assertChainRejected(queue, driver, 0, QueueRejection.BAD_INDIRECT_TABLE);
    }

    @Test
    void pop_indirectTableOutsideMemory_rejected() throws Exception {
        SplitRingDriver driver = driver(8, false);
        Virtqueue queue = activate(driver, INDIRECT);
        driver.writeDescriptor(0, MEMORY_SIZE - 16, 32, SplitRingDriver.INDIRECT, 0);
        driver.publish(0);

        assertChainRejected(queue, driver, 0, QueueRejection.BAD_INDIRECT_TABLE);
    }

    @Test
    void pop_indirectTableZeroLength_rejected() throws Exception {
        SplitRingDriver driver = driver(8, false);
        Virtqueue queue = activate(driver, INDIRECT);
        driver.writeDescriptor(0, TABLE, 0, SplitRingDriver.INDIRECT, 0);
        driver.publish(0);

        assertChainRejected(queue, driver, 0, QueueRejection.BAD_INDIRECT_TABLE);
    }

    @Test
    void pop_loopInsideIndirectTable_rejectedAsLoop() throws Exception {
        SplitRingDriver driver = driver(8, false);
        Virtqueue queue = activate(driver, INDIRECT);
        for (int i = 0; i < 2; i++) {
            memory.writeLong(TABLE + 16L * i, DATA);
            memory.writeInt(TABLE + 16L * i + 8, 8);
            memory.writeShort(TABLE + 16L * i + 12, (short) SplitRingDriver.NEXT);
            memory.writeShort(TABLE + 16L * i + 14, (short) (1 - i));
        }
        driver.writeDescriptor(0, TABLE, 32, SplitRingDriver.INDIRECT, 0);
        driver.publish(0);

        assertChainRejected(queue, driver, 0, QueueRejection.LOOP);
    }

    @Test
    void pop_afterRejectedChain_nextGoodChainIsDelivered() throws Exception {
        SplitRingDriver driver = driver(8, false);
        Virtqueue queue = activate(driver, BASIC);
        driver.add(Buffer.writable(MEMORY_SIZE, 8));
        int good = driver.add(DATA, 8, true);

        DescriptorChain chain = queue.pop();

        assertNotNull(chain);
        assertEquals(good, chain.head());
        assertEquals(1, queue.metrics().rejections(QueueRejection.BUFFER_OUTSIDE_MEMORY));
    }

    @Test
    void pop_availIndexJumpsBeyondQueueSize_queueNeedsReset() throws Exception {
        SplitRingDriver driver = driver(8, false);
        Virtqueue queue = activate(driver, BASIC);
        driver.setAvailIdx(9);

        assertNull(queue.pop());
        assertTrue(queue.needsReset());
        assertEquals(QueueRejection.AVAIL_INDEX_JUMP, queue.failure());
        assertNull(queue.pop(), "a stopped queue stays stopped");
    }

    @Test
    void pop_headIndexOutOfRange_queueNeedsReset() throws Exception {
        SplitRingDriver driver = driver(8, false);
        Virtqueue queue = activate(driver, BASIC);
        driver.publish(8);

        assertNull(queue.pop());
        assertEquals(QueueRejection.HEAD_OUT_OF_RANGE, queue.failure());
    }

    @Test
    void pushUsed_withoutOutstandingRequest_isADeviceBug() throws Exception {
        Virtqueue queue = activate(driver(8, false), BASIC);

        assertThrows(IllegalStateException.class, () -> queue.pushUsed(0, 1, 0));
    }
}
