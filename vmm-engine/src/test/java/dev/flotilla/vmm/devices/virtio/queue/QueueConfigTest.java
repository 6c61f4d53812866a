package dev.flotilla.vmm.devices.virtio.queue;

import dev.flotilla.vmm.devices.virtio.VirtioFeatures;
import dev.flotilla.vmm.memory.GuestMemory;
import dev.flotilla.vmm.memory.SegmentGuestMemory;
import org.junit.jupiter.api.Test;

import static dev.flotilla.vmm.devices.virtio.VirtioFeatures.bit;
import static org.junit.jupiter.api.Assertions.*;

class QueueConfigTest {

    static final long SPLIT = bit(VirtioFeatures.VERSION_1);
    static final long PACKED = SPLIT | bit(VirtioFeatures.RING_PACKED);

    final GuestMemory memory = SegmentGuestMemory.ofHeap(1 << 16);

    QueueConfig valid(int size) {
        QueueConfig config = new QueueConfig(256);
        config.setSize(size);
        config.setDescAddress(0x1000);
        config.setDriverAddress(0x2000);
        config.setDeviceAddress(0x3000);
        return config;
    }

    QueueRejection rejection(QueueConfig config, long features) {
        InvalidQueueConfigException e = assertThrows(InvalidQueueConfigException.class,
                () -> config.activate(memory, features, "test.q0"));
        assertTrue(e.getMessage().startsWith("queue test.q0 cannot be activated"), e.getMessage());
        assertEquals(1, config.metrics().rejections(e.reason()));
        return e.reason();
    }

    @Test
    void activate_validSplit_givesSplitQueue() throws Exception {
        Virtqueue queue = valid(16).activate(memory, SPLIT, "test.q0");

        assertFalse(queue.isPacked());
        assertEquals(16, queue.size());
    }

    @Test
    void activate_zeroSize_rejected() {
        assertEquals(QueueRejection.ZERO_SIZE, rejection(valid(0), SPLIT));
    }

    @Test
    void activate_splitSizeNotPowerOfTwo_rejected() {
        assertEquals(QueueRejection.SIZE_NOT_POWER_OF_TWO, rejection(valid(24), SPLIT));
    }

    @Test
    void activate_packedSizeNotPowerOfTwo_accepted() throws Exception {
        assertTrue(valid(24).activate(memory, PACKED, "test.q0").isPacked());
    }

    @Test
    void activate_sizeAboveMaximum_rejected() {
        assertEquals(QueueRejection.SIZE_ABOVE_MAXIMUM, rejection(valid(512), SPLIT));
    }

    @Test
    void activate_negativeSizeFromRegister_rejected() {
        assertEquals(QueueRejection.SIZE_ABOVE_MAXIMUM, rejection(valid(-1), SPLIT));
    }

    @Test
    void activate_misalignedDescriptorTable_rejected() {
        QueueConfig config = valid(16);
        config.setDescAddress(0x1008);
        assertEquals(QueueRejection.MISALIGNED_RING, rejection(config, SPLIT));
    }

    @Test
    void activate_misalignedAvailRing_rejected() {
        QueueConfig config = valid(16);
        config.setDriverAddress(0x2001);
        assertEquals(QueueRejection.MISALIGNED_RING, rejection(config, SPLIT));
    }

    @Test
    void activate_misalignedUsedRing_rejected() {
        QueueConfig config = valid(16);
        config.setDeviceAddress(0x3002);
        assertEquals(QueueRejection.MISALIGNED_RING, rejection(config, SPLIT));
    }

    @Test
    void activate_misalignedPackedEventArea_rejected() {
        QueueConfig config = valid(16);
        config.setDriverAddress(0x2002);
        assertEquals(QueueRejection.MISALIGNED_RING, rejection(config, PACKED));
    }

    @Test
    void activate_usedRingEndsOutsideMemory_rejected() {
        QueueConfig config = valid(16);
        config.setDeviceAddress((1 << 16) - 64);
        assertEquals(QueueRejection.RING_OUTSIDE_MEMORY, rejection(config, SPLIT));
    }

    @Test
    void activate_descriptorTableFarOutsideMemory_rejected() {
        QueueConfig config = valid(16);
        config.setDescAddress(0xffff_ffff_ffff_fff0L);
        assertEquals(QueueRejection.RING_OUTSIDE_MEMORY, rejection(config, SPLIT));
    }

    @Test
    void reset_restoresMaximumSizeAndClearsReady() {
        QueueConfig config = valid(16);
        config.setReady(true);

        config.reset();

        assertEquals(256, config.size());
        assertFalse(config.ready());
        assertEquals(0, config.descAddress());
    }
}
