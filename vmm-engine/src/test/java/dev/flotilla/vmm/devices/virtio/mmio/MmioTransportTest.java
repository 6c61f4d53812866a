package dev.flotilla.vmm.devices.virtio.mmio;

import dev.flotilla.vmm.devices.virtio.DeviceStatus;
import dev.flotilla.vmm.devices.virtio.VirtioDevice;
import dev.flotilla.vmm.devices.virtio.VirtioFeatures;
import dev.flotilla.vmm.devices.virtio.VirtioInterrupt;
import dev.flotilla.vmm.devices.virtio.queue.DescriptorChain;
import dev.flotilla.vmm.devices.virtio.queue.QueueRejection;
import dev.flotilla.vmm.devices.virtio.queue.Virtqueue;
import dev.flotilla.vmm.devices.virtio.testing.GuestDriver;
import dev.flotilla.vmm.devices.virtio.testing.MmioDriver;
import dev.flotilla.vmm.testing.RecordingIrqLine;
import dev.flotilla.vmm.devices.virtio.testing.SplitRingDriver;
import dev.flotilla.vmm.memory.GuestMemory;
import dev.flotilla.vmm.memory.SegmentGuestMemory;
import org.junit.jupiter.api.Test;

import java.util.ArrayList;
import java.util.List;

import static dev.flotilla.vmm.devices.virtio.VirtioFeatures.bit;
import static dev.flotilla.vmm.devices.virtio.testing.MmioDriver.*;
import static org.junit.jupiter.api.Assertions.*;

class MmioTransportTest {

    static final long VERSION_1 = bit(VirtioFeatures.VERSION_1);
    /** A device-specific feature bit our test device offers. */
    static final long DEVICE_BIT = bit(5);

    /** A minimal device with two queues and an 8-byte config space, recording what the transport does to it. */
    static class TestDevice implements VirtioDevice {
        final byte[] config = {1, 2, 3, 4, 5, 6, 7, 8};
        List<Virtqueue> activatedQueues;
        long activatedFeatures;
        VirtioInterrupt interrupt;
        int resets;
        final List<Integer> processed = new ArrayList<>();

        @Override public int deviceType() { return 42; }
        @Override public long offeredFeatures() { return VirtioFeatures.QUEUE_FEATURES | DEVICE_BIT; }
        @Override public int queueCount() { return 2; }
        @Override public int queueMaxSize(int index) { return 16; }
        @Override public int configSize() { return config.length; }

        @Override
        public long readConfig(int offset, int size) {
            long v = 0;
            for (int i = size - 1; i >= 0; i--) {
                v = (v << 8) | (config[offset + i] & 0xff);
            }
            return v;
        }

        @Override
        public void writeConfig(int offset, int size, long value) {
            for (int i = 0; i < size; i++) {
                config[offset + i] = (byte) (value >>> (8 * i));
            }
        }

        @Override
        public void activate(List<Virtqueue> queues, long features, GuestMemory memory, VirtioInterrupt interrupt) {
            activatedQueues = queues;
            activatedFeatures = features;
            this.interrupt = interrupt;
        }

        @Override
        public void processQueue(int index) {
            processed.add(index);
            Virtqueue q = activatedQueues.get(index);
            DescriptorChain chain;
            while ((chain = q.pop()) != null) {
                q.pushUsed(chain, 0);
            }
            if (q.finishBatch()) {
                interrupt.signalUsedBuffers();
            }
        }

        @Override
        public void reset() {
            resets++;
            activatedQueues = null;
        }
    }

    final GuestMemory memory = SegmentGuestMemory.ofHeap(1 << 20);
    final TestDevice device = new TestDevice();
    final RecordingIrqLine irq = new RecordingIrqLine();
    final MmioTransport transport = new MmioTransport(device, memory, irq, "test0");
    final MmioDriver driver = new MmioDriver(transport);

    SplitRingDriver ringUpAndRunning() {
        assertTrue(driver.negotiate(VERSION_1));
        SplitRingDriver ring = GuestDriver.split(memory, 0x1000, 8, false);
        driver.setupQueue(0, ring);
        driver.driverOk();
        return ring;
    }

    @Test
    void identification_registers_readMagicVersionAndIds() {
        assertEquals(0x74726976, driver.read(MAGIC_VALUE));
        assertEquals(2, driver.read(VERSION));
        assertEquals(42, driver.read(DEVICE_ID));
        assertEquals(MmioTransport.VENDOR, driver.read(VENDOR_ID));
    }

    @Test
    void deviceFeatures_selectedInTwoHalves_give64BitOffer() {
        assertEquals(device.offeredFeatures(), driver.deviceFeatures());
    }

    @Test
    void deviceFeatures_selectBeyondHighWord_readsZero() {
        driver.write(DEVICE_FEATURES_SEL, 2);
        assertEquals(0, driver.read(DEVICE_FEATURES));
    }

    @Test
    void featuresOk_withVersion1AndOfferedSubset_isKept() {
        assertTrue(driver.negotiate(VERSION_1 | DEVICE_BIT));
        assertEquals(VERSION_1 | DEVICE_BIT, transport.negotiatedFeatures());
    }

    @Test
    void featuresOk_withoutVersion1_isRefused() {
        assertFalse(driver.negotiate(DEVICE_BIT));
        assertEquals(DeviceStatus.ACKNOWLEDGE | DeviceStatus.DRIVER, driver.status());
    }

    @Test
    void featuresOk_withFeatureNotOffered_isRefused() {
        assertFalse(driver.negotiate(VERSION_1 | bit(7)));
    }

    @Test
    void driverFeatures_writtenAfterFeaturesOk_ignored() {
        driver.negotiate(VERSION_1);

        driver.writeDriverFeatures(VERSION_1 | DEVICE_BIT);

        assertEquals(VERSION_1, transport.negotiatedFeatures());
    }

    @Test
    void status_driverBeforeAcknowledge_refused() {
        driver.write(STATUS, DeviceStatus.DRIVER);
        assertEquals(0, driver.status());
    }

    @Test
    void status_driverOkBeforeFeaturesOk_refused() {
        driver.addStatus(DeviceStatus.ACKNOWLEDGE);
        driver.addStatus(DeviceStatus.DRIVER);

        driver.addStatus(DeviceStatus.DRIVER_OK);

        assertEquals(DeviceStatus.ACKNOWLEDGE | DeviceStatus.DRIVER, driver.status());
        assertFalse(transport.isActivated());
    }

    @Test
    void status_clearingABit_refused() {
        driver.negotiate(VERSION_1);

        driver.write(STATUS, DeviceStatus.ACKNOWLEDGE);

        assertEquals(DeviceStatus.ACKNOWLEDGE | DeviceStatus.DRIVER | DeviceStatus.FEATURES_OK, driver.status());
    }

    @Test
    void status_failed_setAtAnyTimeAndBlocksProgress() {
        driver.addStatus(DeviceStatus.ACKNOWLEDGE);
        driver.addStatus(DeviceStatus.FAILED);

        driver.addStatus(DeviceStatus.DRIVER);

        assertEquals(DeviceStatus.ACKNOWLEDGE | DeviceStatus.FAILED, driver.status());
    }

    @Test
    void queueRegisters_beforeFeaturesOk_ignored() {
        driver.addStatus(DeviceStatus.ACKNOWLEDGE);
        driver.addStatus(DeviceStatus.DRIVER);
        driver.write(QUEUE_SEL, 0);

        driver.write(QUEUE_READY, 1);

        assertEquals(0, driver.read(QUEUE_READY));
    }

    @Test
    void queueNumMax_existingAndMissingQueue_sizeOrZero() {
        driver.write(QUEUE_SEL, 1);
        assertEquals(16, driver.read(QUEUE_NUM_MAX));
        driver.write(QUEUE_SEL, 2);
        assertEquals(0, driver.read(QUEUE_NUM_MAX));
    }

    @Test
    void driverOk_withReadyQueue_activatesDeviceWithRunningQueue() {
        ringUpAndRunning();

        assertTrue(transport.isActivated());
        assertEquals(2, device.activatedQueues.size());
        assertNotNull(device.activatedQueues.get(0));
        assertNull(device.activatedQueues.get(1), "queue 1 was never made ready");
        assertEquals(VERSION_1, device.activatedFeatures);
    }

    @Test
    void driverOk_invalidQueueConfig_setsNeedsResetAndSignalsConfigChange() {
        driver.negotiate(VERSION_1);
        driver.write(QUEUE_SEL, 0);
        driver.write(QUEUE_NUM, 6); // not a power of two
        driver.write(QUEUE_READY, 1);

        driver.driverOk();

        assertFalse(transport.isActivated());
        assertNotEquals(0, driver.status() & DeviceStatus.DEVICE_NEEDS_RESET);
        assertEquals(2, driver.read(INTERRUPT_STATUS));
        assertEquals(1, driver.read(CONFIG_GENERATION));
        assertEquals(1, transport.queueMetrics(0).rejections(QueueRejection.SIZE_NOT_POWER_OF_TWO));
    }

    @Test
    void queueNotify_mmioWrite_processesQueueAndRaisesUsedBufferInterrupt() {
        SplitRingDriver ring = ringUpAndRunning();
        ring.add(0x10000, 16, true);

        driver.notifyQueue(0);

        assertEquals(List.of(0), device.processed);
        assertTrue(ring.pollUsed());
        assertEquals(1, irq.edges());
        assertEquals(1, driver.takeInterrupt());
        assertEquals(0, driver.read(INTERRUPT_STATUS));
    }

    @Test
    void queueReady_zeroAfterDriverOk_readsBackZeroAndQueueStopsBeingServed() {
        SplitRingDriver ring = ringUpAndRunning();
        driver.write(QUEUE_SEL, 0);

        driver.write(QUEUE_READY, 0);
        ring.add(0x10000, 16, true);
        driver.notifyQueue(0);

        assertEquals(0, driver.read(QUEUE_READY));
        assertTrue(device.processed.isEmpty());
    }

    @Test
    void queueNotify_beforeDriverOk_ignored() {
        driver.negotiate(VERSION_1);

        driver.notifyQueue(0);

        assertTrue(device.processed.isEmpty());
    }

    @Test
    void queueNotify_customHandler_receivesIndexInsteadOfInlineProcessing() {
        ringUpAndRunning();
        List<Integer> forwarded = new ArrayList<>();
        transport.setQueueNotifyHandler(forwarded::add);

        driver.notifyQueue(0);

        assertEquals(List.of(0), forwarded);
        assertTrue(device.processed.isEmpty());
    }

    @Test
    void queueNotification_hostileRing_setsDeviceNeedsReset() {
        SplitRingDriver ring = ringUpAndRunning();
        ring.setAvailIdx(100); // more than the 8-entry ring can hold

        transport.processQueueNotification(0);

        assertNotEquals(0, driver.status() & DeviceStatus.DEVICE_NEEDS_RESET);
        assertEquals(2, driver.read(INTERRUPT_STATUS) & 2);
        assertEquals(1, transport.queueMetrics(0).rejections(QueueRejection.AVAIL_INDEX_JUMP));
    }

    /** The guest's interrupt handler must not wait while the loop holds the transport for a device pass (file I/O included). */
    @Test
    void interruptStatusAndAck_whileTheLoopHoldsTheTransport_doNotWait() throws Exception {
        ringUpAndRunning();
        device.interrupt.signalUsedBuffers();
        java.util.concurrent.CountDownLatch held = new java.util.concurrent.CountDownLatch(1);
        java.util.concurrent.CountDownLatch release = new java.util.concurrent.CountDownLatch(1);
        Thread loop = Thread.ofPlatform().start(() -> transport.runLocked(() -> {
            held.countDown();
            try {
                release.await();
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
            }
        }));
        try {
            assertTrue(held.await(5, java.util.concurrent.TimeUnit.SECONDS));
            var vcpu = java.util.concurrent.CompletableFuture.supplyAsync(() -> {
                long status = driver.read(INTERRUPT_STATUS);
                driver.write(INTERRUPT_ACK, (int) status);
                return status;
            });
            assertEquals(1, vcpu.get(5, java.util.concurrent.TimeUnit.SECONDS) & 1, "used-buffer bit read and acknowledged while the lock is held");
        } finally {
            release.countDown();
            loop.join();
        }
        assertEquals(0, driver.read(INTERRUPT_STATUS));
    }

    @Test
    void reset_writeZero_returnsToInitialStateAndResetsDevice() {
        ringUpAndRunning();
        device.interrupt.signalUsedBuffers();

        driver.write(STATUS, 0);

        assertEquals(0, driver.status());
        assertEquals(1, device.resets);
        assertFalse(transport.isActivated());
        assertEquals(0, driver.read(INTERRUPT_STATUS));
        driver.write(QUEUE_SEL, 0);
        assertEquals(0, driver.read(QUEUE_READY));
        assertEquals(0, transport.negotiatedFeatures());
    }

    @Test
    void reset_afterNeedsReset_deviceUsableAgain() {
        SplitRingDriver ring = ringUpAndRunning();
        ring.setAvailIdx(100);
        transport.processQueueNotification(0);

        SplitRingDriver fresh = ringUpAndRunning();
        fresh.add(0x10000, 16, true);
        driver.notifyQueue(0);

        assertEquals(0, driver.status() & DeviceStatus.DEVICE_NEEDS_RESET);
        assertTrue(fresh.pollUsed());
    }

    @Test
    void config_readsOfEachWidth_areLittleEndian() {
        assertEquals(0x01, transport.read(CONFIG, 1));
        assertEquals(0x0403, transport.read(CONFIG + 2, 2));
        assertEquals(0x08070605L, transport.read(CONFIG + 4, 4));
    }

    @Test
    void config_accessPastEnd_readsZeroAndWriteIgnored() {
        assertEquals(0, transport.read(CONFIG + 6, 4));
        transport.write(CONFIG + 6, 4, 0xffff_ffffL);
        assertEquals(7, device.config[6]);
    }

    @Test
    void config_write_reachesDevice() {
        transport.write(CONFIG + 1, 2, 0xbeef);
        assertEquals(0xbeef, transport.read(CONFIG + 1, 2));
    }

    @Test
    void configGeneration_configChange_incrementsAndInterrupts() {
        ringUpAndRunning();
        int before = driver.read(CONFIG_GENERATION);

        device.interrupt.signalConfigChange();

        assertEquals(before + 1, driver.read(CONFIG_GENERATION));
        assertEquals(2, driver.read(INTERRUPT_STATUS));
        assertEquals(1, irq.edges());
    }

    @Test
    void sharedMemory_anyRegion_readsAsNotPresent() {
        driver.write(SHM_SEL, 0);
        assertEquals(-1, driver.read(SHM_LEN_LOW));
        assertEquals(-1, driver.read(SHM_LEN_HIGH));
    }

    @Test
    void controlRegister_narrowAccess_ignored() {
        assertEquals(0, transport.read(MAGIC_VALUE, 2));
        transport.write(STATUS, 1, DeviceStatus.ACKNOWLEDGE);
        assertEquals(0, driver.status());
    }

    @Test
    void kernelCommandLineEntry_formatsSizeBaseAndIrq() {
        assertEquals("virtio_mmio.device=4K@0xc0001000:5", MmioTransport.kernelCommandLineEntry(0xC000_1000L, 0x1000, 5));
    }

    @Test
    void kernelCommandLineEntry_sizeNotWholeKilobytes_inBytes() {
        assertEquals("virtio_mmio.device=512@0xd0000000:9", MmioTransport.kernelCommandLineEntry(0xD000_0000L, 512, 9));
    }

    @Test
    void constructor_deviceWithoutVersion1_refused() {
        VirtioDevice legacy = new TestDevice() {
            @Override public long offeredFeatures() { return DEVICE_BIT; }
        };
        assertThrows(IllegalArgumentException.class, () -> new MmioTransport(legacy, memory, irq, "legacy0"));
    }
}
