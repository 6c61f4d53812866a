package dev.flotilla.vmm.devices.virtio.blk;

import dev.flotilla.vmm.devices.virtio.VirtioFeatures;
import dev.flotilla.vmm.devices.virtio.mmio.MmioTransport;
import dev.flotilla.vmm.devices.virtio.testing.GuestDriver;
import dev.flotilla.vmm.devices.virtio.testing.GuestDriver.Buffer;
import dev.flotilla.vmm.devices.virtio.testing.ManualEnvironment;
import dev.flotilla.vmm.devices.virtio.testing.MmioDriver;
import dev.flotilla.vmm.testing.RecordingIrqLine;
import dev.flotilla.vmm.memory.GuestMemory;
import dev.flotilla.vmm.memory.SegmentGuestMemory;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.Optional;

import static dev.flotilla.vmm.devices.virtio.VirtioFeatures.bit;
import static org.junit.jupiter.api.Assertions.*;

/** virtio-blk through the MMIO transport and a driver-side ring, over a real temporary image file. */
class VirtioBlockTest {

    static final long HEADER = 0x20000;
    static final long DATA = 0x30000;
    static final long STATUS = 0x28000;
    static final long BASE_FEATURES = bit(VirtioFeatures.VERSION_1) | bit(VirtioFeatures.EVENT_IDX) | bit(VirtioFeatures.INDIRECT_DESC)
            | bit(VirtioBlock.F_FLUSH) | bit(VirtioBlock.F_DISCARD) | bit(VirtioBlock.F_WRITE_ZEROES);
    static final int SECTORS = 64;

    @TempDir
    Path tmp;
    final GuestMemory memory = newMemory();
    final ManualEnvironment env = new ManualEnvironment();
    final RecordingIrqLine irq = new RecordingIrqLine();
    /** The image's size in sectors (sector i filled with byte i). */
    int sectors = SECTORS;
    Path image;
    VirtioBlock blk;
    MmioTransport transport;
    MmioDriver mmio;
    GuestDriver ring;

    /** Heap-backed here: the device's segment-by-segment path; {@link VirtioBlockNativeMemoryTest} runs all again natively. */
    GuestMemory newMemory() {
        return SegmentGuestMemory.ofHeap(1 << 20);
    }

    void open(boolean readOnly, boolean packed, RateLimiter limiter) throws IOException {
        image = tmp.resolve("disk.img");
        byte[] initial = new byte[sectors * 512];
        for (int i = 0; i < initial.length; i++) {
            initial[i] = (byte) (i / 512);
        }
        Files.write(image, initial);
        blk = new VirtioBlock(new RawFileBackend(image, readOnly), "serial-123", limiter, env, "blk0");
        transport = new MmioTransport(blk, memory, irq, "blk0");
        env.attach(transport);
        mmio = new MmioDriver(transport);
        long features = BASE_FEATURES | (packed ? bit(VirtioFeatures.RING_PACKED) : 0);
        features &= mmio.deviceFeatures();
        assertTrue(mmio.negotiate(features));
        ring = packed ? GuestDriver.packed(memory, 0x1000, 64, true) : GuestDriver.split(memory, 0x1000, 64, true);
        mmio.setupQueue(0, ring);
        mmio.driverOk();
    }

    void open(boolean packed) throws IOException {
        open(false, packed, RateLimiter.unlimited());
    }

    @AfterEach
    void close() throws IOException {
        if (blk != null) {
            blk.close();
        }
    }

    void header(int type, long sector) {
        memory.writeInt(HEADER, type);
        memory.writeInt(HEADER + 4, 0);
        memory.writeLong(HEADER + 8, sector);
        memory.writeByte(STATUS, (byte) 0x7f);
    }

    /** Submits, kicks, runs the I/O, and returns the used length (status at STATUS). */
    int submit(Buffer... buffers) {
        ring.add(buffers);
        mmio.notifyQueue(0);
        env.runAll();
        assertTrue(ring.pollUsed(), "request was not completed");
        return ring.lastUsedLength();
    }

    int status() {
        return memory.readByte(STATUS) & 0xff;
    }

    @Test
    void config_reportsCapacitySegmentLimitsAndDiscardLimits() throws IOException {
        open(false);
        assertEquals(SECTORS, transport.read(MmioDriver.CONFIG, 8));
        assertEquals(BlockLimits.SIZE_MAX, transport.read(MmioDriver.CONFIG + 8, 4));
        assertEquals(BlockLimits.SEG_MAX, transport.read(MmioDriver.CONFIG + 12, 4));
        assertEquals(512, transport.read(MmioDriver.CONFIG + 20, 4));
        assertEquals(BlockLimits.MAX_SEGMENTS, transport.read(MmioDriver.CONFIG + 40, 4));
        assertEquals(1, transport.read(MmioDriver.CONFIG + 56, 1));
        assertEquals(2, mmio.read(MmioDriver.DEVICE_ID));
    }

    @Test
    void readOnly_offersRoAndNoDiscard() throws IOException {
        open(true, false, RateLimiter.unlimited());
        long offered = mmio.deviceFeatures();
        assertTrue(VirtioFeatures.has(offered, VirtioBlock.F_RO));
        assertFalse(VirtioFeatures.has(offered, VirtioBlock.F_DISCARD));
        assertFalse(VirtioFeatures.has(offered, VirtioBlock.F_WRITE_ZEROES));
    }

    @ParameterizedTest(name = "packed={0}")
    @ValueSource(booleans = {false, true})
    void read_twoSectors_copiesFileDataAndInterrupts(boolean packed) throws IOException {
        open(packed);
        header(BlockRequest.T_IN, 5);

        int used = submit(Buffer.readable(HEADER, 16), Buffer.writable(DATA, 1024), Buffer.writable(STATUS, 1));

        assertEquals(1025, used);
        assertEquals(0, status());
        assertEquals(5, memory.readByte(DATA));
        assertEquals(6, memory.readByte(DATA + 1023));
        assertEquals(1, irq.edges());
    }

    @ParameterizedTest(name = "packed={0}")
    @ValueSource(booleans = {false, true})
    void write_headerAndDataInOneDescriptor_landsInTheFile(boolean packed) throws IOException {
        open(packed);
        header(BlockRequest.T_OUT, 3);
        byte[] payload = new byte[512];
        Arrays.fill(payload, (byte) 0xab);
        memory.write(HEADER + 16, payload, 0, 512);

        int used = submit(Buffer.readable(HEADER, 16 + 512), Buffer.writable(STATUS, 1));

        assertEquals(1, used);
        assertEquals(0, status());
        byte[] file = Files.readAllBytes(image);
        assertEquals((byte) 0xab, file[3 * 512]);
        assertEquals((byte) 0xab, file[4 * 512 - 1]);
        assertEquals(4, file[4 * 512]);
    }

    @ParameterizedTest
    @ValueSource(booleans = {false, true})
    void readAndWrite_scatteredOverSeveralBuffers_eachBufferGetsItsSectors(boolean packed) throws IOException {
        open(packed);
        header(BlockRequest.T_OUT, 8);
        for (int i = 0; i < 3; i++) {
            memory.write(DATA + i * 0x2000L, new byte[]{(byte) (0xA0 + i)}, 0, 1);
        }
        assertEquals(1, submit(Buffer.readable(HEADER, 16), Buffer.readable(DATA, 512), Buffer.readable(DATA + 0x2000, 512),
                Buffer.readable(DATA + 0x4000, 1024), Buffer.writable(STATUS, 1)));
        byte[] file = Files.readAllBytes(image);
        assertEquals((byte) 0xA0, file[8 * 512]);
        assertEquals((byte) 0xA1, file[9 * 512]);
        assertEquals((byte) 0xA2, file[10 * 512]);
        assertEquals(0, file[11 * 512], "the last buffer's second sector held zeroes in the guest");

        header(BlockRequest.T_IN, 9);
        int used = submit(Buffer.readable(HEADER, 16), Buffer.writable(DATA + 0x8000, 512), Buffer.writable(DATA + 0xA000, 1024),
                Buffer.writable(STATUS, 1));
        assertEquals(1536 + 1, used);
        assertEquals((byte) 0xA1, memory.readByte(DATA + 0x8000));
        assertEquals((byte) 0xA2, memory.readByte(DATA + 0xA000));
        assertEquals(0, memory.readByte(DATA + 0xA000 + 512));
        assertEquals(0, status());
    }

    @Test
    void read_withoutRateLimiter_completedOnTheIoThreadWithoutALoopTask() throws IOException {
        open(false);
        header(BlockRequest.T_IN, 1);
        int loopTasksBefore = env.loopTasksRun();

        int used = submit(Buffer.readable(HEADER, 16), Buffer.writable(DATA, 512), Buffer.writable(STATUS, 1));

        assertEquals(512 + 1, used);
        assertEquals(loopTasksBefore, env.loopTasksRun());
        assertEquals(1, irq.edges());
    }

    @Test
    void write_throughIndirectTable_landsInTheFile() throws IOException {
        open(false);
        header(BlockRequest.T_OUT, 0);
        memory.write(DATA, new byte[] {9, 9, 9}, 0, 3);
        ring.addIndirect(0x40000, Buffer.readable(HEADER, 16), Buffer.readable(DATA, 512), Buffer.writable(STATUS, 1));
        mmio.notifyQueue(0);
        env.runAll();
        assertTrue(ring.pollUsed());
        assertEquals(0, status());
        assertEquals(9, Files.readAllBytes(image)[2]);
    }

    @Test
    void flush_completesOk() throws IOException {
        open(false);
        header(BlockRequest.T_FLUSH, 0);
        assertEquals(1, submit(Buffer.readable(HEADER, 16), Buffer.writable(STATUS, 1)));
        assertEquals(0, status());
    }

    @Test
    void getId_returnsTheSerialPaddedToTwentyBytes() throws IOException {
        open(false);
        header(BlockRequest.T_GET_ID, 0);
        memory.write(DATA, new byte[20], 0, 20);
        memory.writeByte(DATA + 15, (byte) 'x');

        int used = submit(Buffer.readable(HEADER, 16), Buffer.writable(DATA, 20), Buffer.writable(STATUS, 1));

        assertEquals(21, used);
        byte[] id = new byte[20];
        memory.read(DATA, id, 0, 20);
        assertEquals("serial-123", new String(id, 0, 10));
        assertEquals(0, id[15], "the serial is zero-padded");
    }

    @Test
    void writeZeroes_segment_zeroesTheRange() throws IOException {
        open(false);
        header(BlockRequest.T_WRITE_ZEROES, 0);
        memory.writeLong(DATA, 8);
        memory.writeInt(DATA + 8, 8);
        memory.writeInt(DATA + 12, 0);

        submit(Buffer.readable(HEADER, 16), Buffer.readable(DATA, 16), Buffer.writable(STATUS, 1));

        assertEquals(0, status());
        byte[] file = Files.readAllBytes(image);
        assertEquals(SECTORS * 512, file.length, "the image keeps its size");
        for (int i = 8 * 512; i < 16 * 512; i++) {
            assertEquals(0, file[i], "byte " + i);
        }
        assertEquals(16, file[16 * 512]);
        assertEquals(7, file[8 * 512 - 1]);
    }

    @Test
    void discard_segment_readsBackAsZeroesOrUnchangedAndSucceeds() throws IOException {
        open(false);
        header(BlockRequest.T_DISCARD, 0);
        memory.writeLong(DATA, 0);
        memory.writeInt(DATA + 8, 16);
        memory.writeInt(DATA + 12, 0);

        submit(Buffer.readable(HEADER, 16), Buffer.readable(DATA, 16), Buffer.writable(STATUS, 1));

        assertEquals(0, status());
        assertEquals(SECTORS * 512, Files.size(image));
        assertEquals(16, Files.readAllBytes(image)[16 * 512], "outside the range nothing changed");
    }

    // ------------------------------------------------------------ rejections

    @Test
    void write_readOnlyDrive_ioErrAndFileUnchanged() throws IOException {
        open(true, false, RateLimiter.unlimited());
        header(BlockRequest.T_OUT, 0);
        submit(Buffer.readable(HEADER, 16), Buffer.readable(DATA, 512), Buffer.writable(STATUS, 1));
        assertEquals(BlockRejection.Status.IOERR, status());
        assertEquals(0, Files.readAllBytes(image)[0]);
        assertEquals(1, blk.rejections(BlockRejection.READ_ONLY));
    }

    @Test
    void read_beyondCapacity_ioErr() throws IOException {
        open(false);
        header(BlockRequest.T_IN, SECTORS - 1);
        submit(Buffer.readable(HEADER, 16), Buffer.writable(DATA, 1024), Buffer.writable(STATUS, 1));
        assertEquals(BlockRejection.Status.IOERR, status());
        assertEquals(1, blk.rejections(BlockRejection.SECTOR_OUT_OF_RANGE));
    }

    @Test
    void read_hugeSectorNumber_ioErrWithoutOverflow() throws IOException {
        open(false);
        header(BlockRequest.T_IN, -1L);
        submit(Buffer.readable(HEADER, 16), Buffer.writable(DATA, 512), Buffer.writable(STATUS, 1));
        assertEquals(BlockRejection.Status.IOERR, status());
        assertEquals(1, blk.rejections(BlockRejection.SECTOR_OUT_OF_RANGE));
    }

    @Test
    void read_partialSector_ioErr() throws IOException {
        open(false);
        header(BlockRequest.T_IN, 0);
        submit(Buffer.readable(HEADER, 16), Buffer.writable(DATA, 100), Buffer.writable(STATUS, 1));
        assertEquals(BlockRejection.Status.IOERR, status());
        assertEquals(1, blk.rejections(BlockRejection.DATA_NOT_SECTOR_MULTIPLE));
    }

    @Test
    void request_shortHeader_ioErr() throws IOException {
        open(false);
        header(BlockRequest.T_IN, 0);
        submit(Buffer.readable(HEADER, 8), Buffer.writable(STATUS, 1));
        assertEquals(BlockRejection.Status.IOERR, status());
        assertEquals(1, blk.rejections(BlockRejection.HEADER_TOO_SHORT));
    }

    @Test
    void request_noWritableStatus_completedWithLengthZero() throws IOException {
        open(false);
        header(BlockRequest.T_IN, 0);
        int used = submit(Buffer.readable(HEADER, 16), Buffer.readable(STATUS, 1));
        assertEquals(0, used);
        assertEquals(0x7f, status(), "no status written anywhere");
        assertEquals(1, blk.rejections(BlockRejection.STATUS_MISSING));
    }

    @Test
    void request_unknownType_unsupp() throws IOException {
        open(false);
        header(99, 0);
        submit(Buffer.readable(HEADER, 16), Buffer.writable(STATUS, 1));
        assertEquals(BlockRejection.Status.UNSUPP, status());
    }

    @Test
    void read_withReadableData_ioErr() throws IOException {
        open(false);
        header(BlockRequest.T_IN, 0);
        submit(Buffer.readable(HEADER, 16), Buffer.readable(DATA, 512), Buffer.writable(STATUS, 1));
        assertEquals(BlockRejection.Status.IOERR, status());
        assertEquals(1, blk.rejections(BlockRejection.UNEXPECTED_READABLE_DATA));
    }

    @Test
    void write_withWritableData_ioErr() throws IOException {
        open(false);
        header(BlockRequest.T_OUT, 0);
        submit(Buffer.readable(HEADER, 16), Buffer.writable(DATA, 512), Buffer.writable(STATUS, 1));
        assertEquals(BlockRejection.Status.IOERR, status());
        assertEquals(1, blk.rejections(BlockRejection.UNEXPECTED_WRITABLE_DATA));
    }

    @Test
    void discard_withUnmapFlag_unsupp() throws IOException {
        open(false);
        header(BlockRequest.T_DISCARD, 0);
        memory.writeLong(DATA, 0);
        memory.writeInt(DATA + 8, 1);
        memory.writeInt(DATA + 12, 1);
        submit(Buffer.readable(HEADER, 16), Buffer.readable(DATA, 16), Buffer.writable(STATUS, 1));
        assertEquals(BlockRejection.Status.UNSUPP, status());
        assertEquals(1, blk.rejections(BlockRejection.UNSUPPORTED_SEGMENT_FLAGS));
    }

    @Test
    void discard_partialSegment_ioErr() throws IOException {
        open(false);
        header(BlockRequest.T_DISCARD, 0);
        submit(Buffer.readable(HEADER, 16), Buffer.readable(DATA, 10), Buffer.writable(STATUS, 1));
        assertEquals(BlockRejection.Status.IOERR, status());
        assertEquals(1, blk.rejections(BlockRejection.BAD_SEGMENT_LIST));
    }

    @Test
    void discard_tooManySegments_ioErr() throws IOException {
        open(false);
        header(BlockRequest.T_DISCARD, 0);
        submit(Buffer.readable(HEADER, 16), Buffer.readable(DATA, 16 * (BlockLimits.MAX_SEGMENTS + 1)), Buffer.writable(STATUS, 1));
        assertEquals(BlockRejection.Status.IOERR, status());
        assertEquals(1, blk.rejections(BlockRejection.TOO_MANY_SEGMENTS));
    }

    @Test
    void writeZeroes_segmentBeyondLimit_ioErr() throws IOException {
        open(false);
        header(BlockRequest.T_WRITE_ZEROES, 0);
        memory.writeLong(DATA, 0);
        memory.writeInt(DATA + 8, BlockLimits.MAX_SEGMENT_SECTORS + 1);
        memory.writeInt(DATA + 12, 0);
        submit(Buffer.readable(HEADER, 16), Buffer.readable(DATA, 16), Buffer.writable(STATUS, 1));
        assertEquals(BlockRejection.Status.IOERR, status());
        assertEquals(1, blk.rejections(BlockRejection.SEGMENT_TOO_LARGE));
    }

    @Test
    void getId_withoutDataBuffer_ioErr() throws IOException {
        open(false);
        header(BlockRequest.T_GET_ID, 0);
        submit(Buffer.readable(HEADER, 16), Buffer.writable(STATUS, 1));
        assertEquals(BlockRejection.Status.IOERR, status());
        assertEquals(1, blk.rejections(BlockRejection.ID_BUFFER_EMPTY));
    }

    // ------------------------------------------------------------ asynchrony, reset, rate limit

    @Test
    void completions_batchedIntoOneInterrupt() throws IOException {
        open(false);
        header(BlockRequest.T_FLUSH, 0);
        for (int i = 0; i < 4; i++) {
            ring.add(Buffer.readable(HEADER, 16), Buffer.writable(STATUS + i, 1));
        }
        mmio.notifyQueue(0);
        assertEquals(4, env.pendingBlocking(), "the I/O waits on the executor, not on the notifying thread");
        assertEquals(0, irq.edges());
        env.runAll();
        for (int i = 0; i < 4; i++) {
            assertTrue(ring.pollUsed());
        }
        assertEquals(1, irq.edges());
    }

    @Test
    void reset_whileIoInFlight_dropsTheStaleCompletion() throws IOException {
        open(false);
        header(BlockRequest.T_FLUSH, 0);
        ring.add(Buffer.readable(HEADER, 16), Buffer.writable(STATUS, 1));
        mmio.notifyQueue(0);
        mmio.write(MmioDriver.STATUS, 0);
        env.runAll();
        assertEquals(0, irq.edges());
        assertFalse(ring.pollUsed());
    }

    @Test
    void rateLimiter_opsExhausted_requestWaitsForTheTimer() throws IOException {
        open(false, false, new RateLimiter(Optional.empty(), Optional.of(new RateLimiter.Limit(1, 100)), env.nanoTime()));
        header(BlockRequest.T_FLUSH, 0);
        ring.add(Buffer.readable(HEADER, 16), Buffer.writable(STATUS, 1));
        ring.add(Buffer.readable(HEADER, 16), Buffer.writable(STATUS + 1, 1));
        mmio.notifyQueue(0);
        env.runAll();
        assertTrue(ring.pollUsed());
        assertFalse(ring.pollUsed(), "the second request must wait for tokens");
        assertEquals(1, env.pendingTimers());

        env.advance(101_000_000);

        assertTrue(ring.pollUsed());
    }
}
