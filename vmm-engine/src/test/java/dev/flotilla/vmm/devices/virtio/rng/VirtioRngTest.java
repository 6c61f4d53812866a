package dev.flotilla.vmm.devices.virtio.rng;

import dev.flotilla.vmm.devices.virtio.VirtioFeatures;
import dev.flotilla.vmm.devices.virtio.mmio.MmioTransport;
import dev.flotilla.vmm.devices.virtio.testing.GuestDriver;
import dev.flotilla.vmm.devices.virtio.testing.GuestDriver.Buffer;
import dev.flotilla.vmm.devices.virtio.testing.MmioDriver;
import dev.flotilla.vmm.testing.RecordingIrqLine;
import dev.flotilla.vmm.memory.GuestMemory;
import dev.flotilla.vmm.memory.SegmentGuestMemory;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

import static dev.flotilla.vmm.devices.virtio.VirtioFeatures.bit;
import static org.junit.jupiter.api.Assertions.*;

/** virtio-rng end to end: guest driver → MMIO registers → transport → queue → device → used ring and interrupt. */
class VirtioRngTest {

    static final long DATA = 0x10000;
    static final long SPLIT = bit(VirtioFeatures.VERSION_1) | bit(VirtioFeatures.EVENT_IDX) | bit(VirtioFeatures.INDIRECT_DESC);
    static final long PACKED = SPLIT | bit(VirtioFeatures.RING_PACKED);

    /** Deterministic "entropy": a running byte counter, so the test can tell exactly which bytes landed where. */
    static final class CountingSource implements EntropySource {
        int next;

        @Override
        public void fill(byte[] buffer) {
            for (int i = 0; i < buffer.length; i++) {
                buffer[i] = (byte) next++;
            }
        }
    }

    final GuestMemory memory = SegmentGuestMemory.ofHeap(1 << 20);
    final CountingSource entropy = new CountingSource();
    final VirtioRng rng = new VirtioRng(entropy);
    final RecordingIrqLine irq = new RecordingIrqLine();
    final MmioTransport transport = new MmioTransport(rng, memory, irq, "rng0");
    final MmioDriver mmio = new MmioDriver(transport);

    GuestDriver start(boolean packed) {
        assertTrue(mmio.negotiate(packed ? PACKED : SPLIT));
        GuestDriver ring = packed
                ? GuestDriver.packed(memory, 0x1000, 64, true)
                : GuestDriver.split(memory, 0x1000, 64, true);
        mmio.setupQueue(0, ring);
        mmio.driverOk();
        return ring;
    }

    @Test
    void identity_deviceIdFourOneQueueNoConfig() {
        assertEquals(4, mmio.read(MmioDriver.DEVICE_ID));
        assertEquals(0, transport.read(MmioDriver.CONFIG, 4));
        mmio.write(MmioDriver.QUEUE_SEL, 0);
        assertEquals(VirtioRng.QUEUE_SIZE, mmio.read(MmioDriver.QUEUE_NUM_MAX));
        mmio.write(MmioDriver.QUEUE_SEL, 1);
        assertEquals(0, mmio.read(MmioDriver.QUEUE_NUM_MAX));
    }

    @ParameterizedTest(name = "packed={0}")
    @ValueSource(booleans = {false, true})
    void request_writableBuffer_filledWithEntropyAndInterruptRaised(boolean packed) {
        GuestDriver ring = start(packed);
        int id = ring.add(DATA, 64, true);

        mmio.notifyQueue(0);

        assertTrue(ring.pollUsed());
        assertEquals(id, ring.lastUsedId());
        assertEquals(64, ring.lastUsedLength());
        for (int i = 0; i < 64; i++) {
            assertEquals((byte) i, memory.readByte(DATA + i));
        }
        assertEquals(1, mmio.takeInterrupt());
        assertEquals(1, irq.edges());
    }

    @ParameterizedTest(name = "packed={0}")
    @ValueSource(booleans = {false, true})
    void request_chainedWritableBuffers_eachFilledWithFreshBytes(boolean packed) {
        GuestDriver ring = start(packed);
        ring.add(Buffer.writable(DATA, 10), Buffer.writable(DATA + 0x100, 20));

        mmio.notifyQueue(0);

        assertTrue(ring.pollUsed());
        assertEquals(30, ring.lastUsedLength());
        assertEquals((byte) 9, memory.readByte(DATA + 9));
        assertEquals((byte) 10, memory.readByte(DATA + 0x100));
        assertEquals((byte) 29, memory.readByte(DATA + 0x100 + 19));
    }

    @ParameterizedTest(name = "packed={0}")
    @ValueSource(booleans = {false, true})
    void request_indirectTable_filled(boolean packed) {
        GuestDriver ring = start(packed);
        ring.addIndirect(0x8000, Buffer.writable(DATA, 8), Buffer.writable(DATA + 8, 8));

        mmio.notifyQueue(0);

        assertTrue(ring.pollUsed());
        assertEquals(16, ring.lastUsedLength());
    }

    @ParameterizedTest(name = "packed={0}")
    @ValueSource(booleans = {false, true})
    void request_largerThanCap_filledOnlyUpToCap(boolean packed) {
        GuestDriver ring = start(packed);
        int asked = VirtioRng.MAX_BYTES_PER_REQUEST + 4096;
        memory.zero(DATA, asked);
        ring.add(DATA, asked, true);

        mmio.notifyQueue(0);

        assertTrue(ring.pollUsed());
        assertEquals(VirtioRng.MAX_BYTES_PER_REQUEST, ring.lastUsedLength());
        assertEquals(0, memory.readByte(DATA + VirtioRng.MAX_BYTES_PER_REQUEST + 1), "nothing written past the cap");
    }

    @ParameterizedTest(name = "packed={0}")
    @ValueSource(booleans = {false, true})
    void request_withoutWritableBuffer_completedEmpty(boolean packed) {
        GuestDriver ring = start(packed);
        int bad = ring.add(DATA, 64, false);
        int good = ring.add(DATA + 64, 8, true);

        mmio.notifyQueue(0);

        assertTrue(ring.pollUsed());
        assertEquals(bad, ring.lastUsedId());
        assertEquals(0, ring.lastUsedLength());
        assertTrue(ring.pollUsed());
        assertEquals(good, ring.lastUsedId());
        assertEquals(8, ring.lastUsedLength());
        assertEquals(1, rng.requestsWithoutWritableBuffer());
    }

    @ParameterizedTest(name = "packed={0}")
    @ValueSource(booleans = {false, true})
    void requests_manyBatches_everyByteHandedOutOnce(boolean packed) {
        GuestDriver ring = start(packed);
        int total = 0;
        for (int round = 0; round < 200; round++) {
            for (int i = 0; i < 3; i++) {
                ring.add(DATA + 0x1000L * i, 700, true);
            }
            mmio.notifyQueue(0);
            while (ring.pollUsed()) {
                total += ring.lastUsedLength();
            }
        }
        assertEquals(200 * 3 * 700, total);
        assertEquals(total, rng.bytesProvided());
        // Bytes come out of the source in order, so the last byte of the last buffer is byte number total - 1.
        assertEquals((byte) (total - 1), memory.readByte(DATA + 0x2000 + 699), "no entropy skipped or reused");
        assertTrue(entropy.next - total < 4096, "at most one refill of the pool is unused");
    }

    @ParameterizedTest(name = "packed={0}")
    @ValueSource(booleans = {false, true})
    void request_bufferOutsideMemory_returnedByQueueWithoutReachingDevice(boolean packed) {
        GuestDriver ring = start(packed);
        ring.add(Buffer.writable((1 << 20) - 4, 64));

        mmio.notifyQueue(0);

        assertTrue(ring.pollUsed());
        assertEquals(0, ring.lastUsedLength());
        assertEquals(0, rng.requests());
    }

    @Test
    void reset_thenRenegotiateWithOtherLayout_works() {
        start(false);
        mmio.write(MmioDriver.STATUS, 0);

        GuestDriver packedRing = start(true);
        packedRing.add(DATA, 4, true);
        mmio.notifyQueue(0);

        assertTrue(packedRing.pollUsed());
        assertEquals(4, packedRing.lastUsedLength());
    }
}
