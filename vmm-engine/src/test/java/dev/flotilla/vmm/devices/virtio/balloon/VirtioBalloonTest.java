package dev.flotilla.vmm.devices.virtio.balloon;

import dev.flotilla.vmm.devices.virtio.VirtioFeatures;
import dev.flotilla.vmm.devices.virtio.mmio.MmioTransport;
import dev.flotilla.vmm.devices.virtio.testing.GuestDriver;
import dev.flotilla.vmm.devices.virtio.testing.GuestDriver.Buffer;
import dev.flotilla.vmm.devices.virtio.testing.ManualEnvironment;
import dev.flotilla.vmm.devices.virtio.testing.MmioDriver;
import dev.flotilla.vmm.testing.RecordingIrqLine;
import dev.flotilla.vmm.memory.GuestMemory;
import dev.flotilla.vmm.memory.GuestRam;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

import java.time.Duration;

import static dev.flotilla.vmm.devices.virtio.VirtioFeatures.bit;
import static org.junit.jupiter.api.Assertions.*;

/** virtio-balloon through the MMIO transport over native guest RAM, so madvise really runs. */
class VirtioBalloonTest {

    static final long MIB = 1 << 20;
    static final long RING0 = 0x1000;
    static final long PFNS = 0x20000;
    static final long STATS = 0x28000;
    /** Pages the tests balloon away: 4..8 MiB of guest RAM, clear of rings and request data. */
    static final long POOL = 4 * MIB;
    static final long ALL = bit(VirtioFeatures.VERSION_1) | bit(VirtioFeatures.EVENT_IDX) | bit(VirtioFeatures.INDIRECT_DESC)
            | bit(VirtioBalloon.F_STATS_VQ) | bit(VirtioBalloon.F_DEFLATE_ON_OOM) | bit(VirtioBalloon.F_REPORTING);
    static final long INTERVAL = Duration.ofSeconds(1).toNanos();

    final GuestRam ram = GuestRam.allocate(16 * MIB);
    final GuestMemory memory = ram.memory();
    final ManualEnvironment env = new ManualEnvironment();
    final RecordingIrqLine irq = new RecordingIrqLine();
    final VirtioBalloon balloon = new VirtioBalloon(env, "balloon0", INTERVAL, true, true);
    final MmioTransport transport = new MmioTransport(balloon, memory, irq, "balloon0");
    final MmioDriver mmio = new MmioDriver(transport);
    final GuestDriver[] rings = new GuestDriver[4];

    {
        env.attach(transport);
    }

    @AfterEach
    void close() {
        ram.close();
    }

    void start(boolean packed, long features) {
        assertTrue(mmio.negotiate((features | (packed ? bit(VirtioFeatures.RING_PACKED) : 0)) & mmio.deviceFeatures()));
        int queues = 2 + (VirtioFeatures.has(features, VirtioBalloon.F_STATS_VQ) ? 1 : 0)
                + (VirtioFeatures.has(features, VirtioBalloon.F_REPORTING) ? 1 : 0);
        for (int q = 0; q < queues; q++) {
            long base = RING0 + q * 0x2000L;
            rings[q] = packed ? GuestDriver.packed(memory, base, 32, true) : GuestDriver.split(memory, base, 32, true);
            mmio.setupQueue(q, rings[q]);
        }
        mmio.driverOk();
        env.runAll();
    }

    void start(boolean packed) {
        start(packed, ALL);
    }

    void touch(long gpa, long length) {
        for (long a = gpa; a < gpa + length; a += 4096) {
            memory.writeLong(a, 0x5a5a5a5a5a5a5a5aL);
        }
    }

    /** Writes PFNs at PFNS; returns the byte length. */
    int pfns(long... pfn) {
        for (int i = 0; i < pfn.length; i++) {
            memory.writeInt(PFNS + 4L * i, (int) pfn[i]);
        }
        return 4 * pfn.length;
    }

    // ---------------------------------------------------------------- config

    @Test
    void identity_deviceIdFiveFourQueuesConfigSixteenBytes() {
        assertEquals(5, mmio.read(MmioDriver.DEVICE_ID));
        mmio.write(MmioDriver.QUEUE_SEL, 3);
        assertEquals(VirtioBalloon.QUEUE_SIZE, mmio.read(MmioDriver.QUEUE_NUM_MAX));
        mmio.write(MmioDriver.QUEUE_SEL, 4);
        assertEquals(0, mmio.read(MmioDriver.QUEUE_NUM_MAX));
    }

    @Test
    void setTargetMiB_configNumPagesAndConfigChangeInterrupt() {
        start(false);
        int generation = mmio.read(MmioDriver.CONFIG_GENERATION);

        balloon.setTargetMiB(3);
        env.runAll();

        assertEquals(3 * 256, transport.read(MmioDriver.CONFIG, 4));
        assertEquals(2, mmio.takeInterrupt() & 2, "configuration change interrupt");
        assertNotEquals(generation, mmio.read(MmioDriver.CONFIG_GENERATION));
    }

    @Test
    void setTargetMiB_beyondGuestMemoryOrNegative_refused() {
        start(false);
        assertThrows(IllegalArgumentException.class, () -> balloon.setTargetMiB(17));
        assertThrows(IllegalArgumentException.class, () -> balloon.setTargetMiB(-1));
    }

    @Test
    void driverWritesActual_hostSeesIt() {
        start(false);
        transport.write(MmioDriver.CONFIG + 4, 4, 512);
        assertEquals(512, balloon.actualPages());
        assertEquals(512, transport.read(MmioDriver.CONFIG + 4, 4));
    }

    // ---------------------------------------------------------------- inflate / deflate

    @ParameterizedTest(name = "packed={0}")
    @ValueSource(booleans = {false, true})
    void inflate_touchedPages_residentMemoryDropsAndPagesReadZero(boolean packed) {
        start(packed);
        touch(POOL, 4 * MIB);
        long before = ram.residentBytes();
        long[] list = new long[1024];
        for (int i = 0; i < list.length; i++) {
            list[i] = POOL / 4096 + i;
        }
        // 1024 PFNs in 4 descriptors of 256, as Linux sends them (one chain per batch here).
        rings[0].add(Buffer.readable(PFNS, 1024), Buffer.readable(PFNS + 1024, 1024),
                Buffer.readable(PFNS + 2048, 1024), Buffer.readable(PFNS + 3072, pfns(list) - 3072));

        mmio.notifyQueue(VirtioBalloon.INFLATE);

        assertTrue(rings[0].pollUsed());
        assertEquals(1024, balloon.inflatedPages());
        long after = ram.residentBytes();
        assertTrue(before >= 4 * MIB && after < 64 * 1024, "resident before %d, after %d".formatted(before, after));
        assertEquals(0, memory.readLong(POOL + 4096 * 17));
    }

    @ParameterizedTest(name = "packed={0}")
    @ValueSource(booleans = {false, true})
    void inflate_pfnOutsideMemory_skippedAndCountedOthersReleased(boolean packed) {
        start(packed);
        touch(POOL, 8192);
        rings[0].add(PFNS, pfns(POOL / 4096, 0xffff_fff0L, POOL / 4096 + 1, 16 * MIB / 4096), false);

        mmio.notifyQueue(VirtioBalloon.INFLATE);

        assertEquals(2, balloon.inflatedPages());
        assertEquals(2, balloon.rejections(BalloonRejection.PFN_OUTSIDE_MEMORY));
        assertEquals(0, memory.readLong(POOL + 4096));
    }

    @ParameterizedTest(name = "packed={0}")
    @ValueSource(booleans = {false, true})
    void inflate_lengthNotWholePfns_rejectedNothingReleased(boolean packed) {
        start(packed);
        touch(POOL, 4096);
        pfns(POOL / 4096);
        rings[0].add(PFNS, 6, false);

        mmio.notifyQueue(VirtioBalloon.INFLATE);

        assertTrue(rings[0].pollUsed());
        assertEquals(1, balloon.rejections(BalloonRejection.PFN_LIST_NOT_WHOLE));
        assertEquals(0x5a5a5a5a5a5a5a5aL, memory.readLong(POOL));
    }

    @ParameterizedTest(name = "packed={0}")
    @ValueSource(booleans = {false, true})
    void inflate_tooManyPfns_rejected(boolean packed) {
        start(packed);
        rings[0].add(PFNS, 4 * (PfnRanges.MAX_PFNS_PER_REQUEST + 1), false);

        mmio.notifyQueue(VirtioBalloon.INFLATE);

        assertEquals(1, balloon.rejections(BalloonRejection.PFN_LIST_TOO_LONG));
        assertEquals(0, balloon.inflatedPages());
    }

    @ParameterizedTest(name = "packed={0}")
    @ValueSource(booleans = {false, true})
    void inflate_writableBuffer_rejected(boolean packed) {
        start(packed);
        rings[0].add(Buffer.readable(PFNS, pfns(POOL / 4096)), Buffer.writable(PFNS + 0x100, 4));

        mmio.notifyQueue(VirtioBalloon.INFLATE);

        assertEquals(1, balloon.rejections(BalloonRejection.UNEXPECTED_WRITABLE_BUFFER));
        assertEquals(0, balloon.inflatedPages());
    }

    @ParameterizedTest(name = "packed={0}")
    @ValueSource(booleans = {false, true})
    void deflate_pages_countedAndLeftAlone(boolean packed) {
        start(packed);
        touch(POOL, 4096);
        rings[1].add(PFNS, pfns(POOL / 4096), false);

        mmio.notifyQueue(VirtioBalloon.DEFLATE);

        assertTrue(rings[1].pollUsed());
        assertEquals(1, balloon.deflatedPages());
        assertEquals(0x5a5a5a5a5a5a5a5aL, memory.readLong(POOL));
    }

    // ---------------------------------------------------------------- stats

    void writeStat(long at, int tag, long value) {
        memory.writeShort(at, (short) tag);
        memory.writeLong(at + 2, value);
    }

    @ParameterizedTest(name = "packed={0}")
    @ValueSource(booleans = {false, true})
    void stats_bufferArrives_parsedHeldAndReturnedEachInterval(boolean packed) {
        start(packed);
        writeStat(STATS, 4, 100 * MIB);
        writeStat(STATS + 10, 5, 256 * MIB);
        writeStat(STATS + 20, 99, 7); // unknown tag: ignored
        rings[2].add(STATS, 30, false);

        mmio.notifyQueue(2);

        BalloonStats s = balloon.stats().orElseThrow();
        assertEquals(100 * MIB, s.freeMemory().getAsLong());
        assertEquals(256 * MIB, s.totalMemory().getAsLong());
        assertTrue(s.swapIn().isEmpty());
        assertFalse(rings[2].pollUsed(), "the buffer is held until the host asks again");

        env.advance(INTERVAL);

        assertTrue(rings[2].pollUsed(), "the interval returns the buffer, asking for fresh numbers");
        writeStat(STATS, 4, 50 * MIB);
        rings[2].add(STATS, 10, false);
        mmio.notifyQueue(2);
        assertEquals(50 * MIB, balloon.stats().orElseThrow().freeMemory().getAsLong());
        assertEquals(2, balloon.statsUpdates());
    }

    @ParameterizedTest(name = "packed={0}")
    @ValueSource(booleans = {false, true})
    void stats_bufferKickedBeforeDriverOk_parsedAtActivation(boolean packed) {
        // Linux's balloon driver queues and kicks its first stats buffer during probe, before DRIVER_OK.
        assertTrue(mmio.negotiate((ALL | (packed ? bit(VirtioFeatures.RING_PACKED) : 0)) & mmio.deviceFeatures()));
        for (int q = 0; q < 4; q++) {
            long base = RING0 + q * 0x2000L;
            rings[q] = packed ? GuestDriver.packed(memory, base, 32, true) : GuestDriver.split(memory, base, 32, true);
            mmio.setupQueue(q, rings[q]);
        }
        writeStat(STATS, 5, 256 * MIB);
        rings[2].add(STATS, 10, false);
        mmio.notifyQueue(2);
        assertTrue(balloon.stats().isEmpty());

        mmio.driverOk();
        env.runAll();

        assertEquals(256 * MIB, balloon.stats().orElseThrow().totalMemory().getAsLong());
    }

    @ParameterizedTest(name = "packed={0}")
    @ValueSource(booleans = {false, true})
    void stats_lengthNotWholeEntries_rejectedNoStats(boolean packed) {
        start(packed);
        rings[2].add(STATS, 15, false);

        mmio.notifyQueue(2);

        assertEquals(1, balloon.rejections(BalloonRejection.STATS_NOT_WHOLE));
        assertTrue(balloon.stats().isEmpty());
    }

    @Test
    void stats_notNegotiated_reportingQueueTakesIndexTwo() {
        start(false, ALL & ~bit(VirtioBalloon.F_STATS_VQ));
        touch(POOL, 2 * MIB);
        rings[2].add(POOL, (int) (2 * MIB), true);

        mmio.notifyQueue(2);

        assertEquals(2 * MIB, balloon.reportedBytes());
    }

    // ---------------------------------------------------------------- free page reporting

    @ParameterizedTest(name = "packed={0}")
    @ValueSource(booleans = {false, true})
    void report_freeRanges_releasedAndReturned(boolean packed) {
        start(packed);
        touch(POOL, 4 * MIB);
        long before = ram.residentBytes();
        rings[3].add(Buffer.writable(POOL, (int) (2 * MIB)), Buffer.writable(POOL + 2 * MIB, (int) (2 * MIB)));

        mmio.notifyQueue(3);

        assertTrue(rings[3].pollUsed());
        assertEquals(0, rings[3].lastUsedLength());
        assertEquals(4 * MIB, balloon.reportedBytes());
        assertTrue(before - ram.residentBytes() >= 4 * MIB);
    }

    @ParameterizedTest(name = "packed={0}")
    @ValueSource(booleans = {false, true})
    void report_unalignedRange_partialPagesKeptAndCounted(boolean packed) {
        start(packed);
        touch(POOL, 3 * 4096);
        rings[3].add(POOL + 100, 2 * 4096 + 200, true);

        mmio.notifyQueue(3);

        assertEquals(1, balloon.rejections(BalloonRejection.REPORT_UNALIGNED));
        assertEquals(4096, balloon.reportedBytes());
        assertEquals(0x5a5a5a5a5a5a5a5aL, memory.readLong(POOL));
        assertEquals(0, memory.readLong(POOL + 4096));
    }

    @ParameterizedTest(name = "packed={0}")
    @ValueSource(booleans = {false, true})
    void report_readableBuffer_rejected(boolean packed) {
        start(packed);
        rings[3].add(POOL, 4096, false);

        mmio.notifyQueue(3);

        assertTrue(rings[3].pollUsed());
        assertEquals(1, balloon.rejections(BalloonRejection.REPORT_READABLE_BUFFER));
        assertEquals(0, balloon.reportedBytes());
    }

    @Test
    void config_statsIntervalTooShort_problemNamed() {
        assertFalse(new BalloonDeviceConfig(Duration.ofMillis(10), true, true, true, true).problems().isEmpty());
        assertTrue(BalloonDeviceConfig.defaults().problems().isEmpty());
        assertTrue(new BalloonDeviceConfig(Duration.ZERO, false, false, true, true).problems().isEmpty());
    }
}
