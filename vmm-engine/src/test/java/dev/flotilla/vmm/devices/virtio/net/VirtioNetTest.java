package dev.flotilla.vmm.devices.virtio.net;

import dev.flotilla.vmm.devices.virtio.VirtioFeatures;
import dev.flotilla.vmm.devices.virtio.blk.RateLimiter;
import dev.flotilla.vmm.devices.virtio.mmio.MmioTransport;
import dev.flotilla.vmm.devices.virtio.testing.GuestDriver;
import dev.flotilla.vmm.devices.virtio.testing.GuestDriver.Buffer;
import dev.flotilla.vmm.devices.virtio.testing.ManualEnvironment;
import dev.flotilla.vmm.devices.virtio.testing.MmioDriver;
import dev.flotilla.vmm.testing.RecordingIrqLine;
import dev.flotilla.vmm.memory.GuestMemory;
import dev.flotilla.vmm.memory.GuestRam;
import dev.flotilla.vmm.sys.Tun;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;
import org.junit.jupiter.params.provider.ValueSource;

import java.util.Arrays;
import java.util.Optional;
import java.util.stream.Stream;

import static dev.flotilla.vmm.devices.virtio.VirtioFeatures.bit;
import static org.junit.jupiter.api.Assertions.*;

/** virtio-net through the MMIO transport and driver-side rings, over native guest RAM and a fake backend. */
class VirtioNetTest {

    static final long RX_RING = 0x1000;
    static final long TX_RING = 0x3000;
    static final long DATA = 0x10000;
    static final long ALL = bit(VirtioFeatures.VERSION_1) | bit(VirtioFeatures.EVENT_IDX) | bit(VirtioFeatures.INDIRECT_DESC)
            | bit(VirtioNet.F_CSUM) | bit(VirtioNet.F_GUEST_CSUM) | bit(VirtioNet.F_MAC) | bit(VirtioNet.F_GUEST_TSO4)
            | bit(VirtioNet.F_GUEST_TSO6) | bit(VirtioNet.F_HOST_TSO4) | bit(VirtioNet.F_HOST_TSO6)
            | bit(VirtioNet.F_MRG_RXBUF) | bit(VirtioNet.F_STATUS);
    static final MacAddress MAC = MacAddress.parse("02:11:22:33:44:55");

    final GuestRam ram = GuestRam.allocate(4 << 20);
    final GuestMemory memory = ram.memory();
    final ManualEnvironment env = new ManualEnvironment();
    final RecordingIrqLine irq = new RecordingIrqLine();
    final FakeBackend backend = new FakeBackend();
    VirtioNet net;
    MmioTransport transport;
    MmioDriver mmio;
    GuestDriver rx;
    GuestDriver tx;

    void start(boolean packed, long features, RateLimiter rxLimit, RateLimiter txLimit) {
        net = new VirtioNet(backend, MAC, rxLimit, txLimit, env, "net0");
        transport = new MmioTransport(net, memory, irq, "net0");
        env.attach(transport);
        mmio = new MmioDriver(transport);
        assertTrue(mmio.negotiate((features | (packed ? bit(VirtioFeatures.RING_PACKED) : 0)) & mmio.deviceFeatures()));
        rx = packed ? GuestDriver.packed(memory, RX_RING, 64, true) : GuestDriver.split(memory, RX_RING, 64, true);
        tx = packed ? GuestDriver.packed(memory, TX_RING, 64, true) : GuestDriver.split(memory, TX_RING, 64, true);
        mmio.setupQueue(VirtioNet.RX, rx);
        mmio.setupQueue(VirtioNet.TX, tx);
        mmio.driverOk();
    }

    void start(boolean packed) {
        start(packed, ALL, RateLimiter.unlimited(), RateLimiter.unlimited());
    }

    @AfterEach
    void close() {
        if (net != null) {
            net.close();
        }
        ram.close();
    }

    /** A frame as the tap hands it over: a zero 12-byte header, then {@code length} bytes counting up from {@code seed}. */
    static byte[] tapFrame(int length, int seed) {
        byte[] f = new byte[NetHeader.SIZE + length];
        for (int i = 0; i < length; i++) {
            f[NetHeader.SIZE + i] = (byte) (seed + i);
        }
        return f;
    }

    /** Writes a transmit header and {@code length} frame bytes at {@code at}; returns the total. */
    int writeTxFrame(long at, int length, int flags, int gsoType, int gsoSize, int csumStart, int csumOffset, int numBuffers) {
        memory.writeByte(at, (byte) flags);
        memory.writeByte(at + 1, (byte) gsoType);
        memory.writeShort(at + 2, (short) 0);
        memory.writeShort(at + 4, (short) gsoSize);
        memory.writeShort(at + 6, (short) csumStart);
        memory.writeShort(at + 8, (short) csumOffset);
        memory.writeShort(at + 10, (short) numBuffers);
        for (int i = 0; i < length; i++) {
            memory.writeByte(at + NetHeader.SIZE + i, (byte) (7 * i));
        }
        return NetHeader.SIZE + length;
    }

    // ---------------------------------------------------------------- identity and config

    @Test
    void config_macAndLinkUp() {
        start(false);
        assertEquals(1, mmio.read(MmioDriver.DEVICE_ID));
        for (int i = 0; i < 6; i++) {
            assertEquals(MAC.octet(i), transport.read(MmioDriver.CONFIG + i, 1));
        }
        assertEquals(VirtioNet.S_LINK_UP, transport.read(MmioDriver.CONFIG + 6, 2));
    }

    @Test
    void activate_guestAcceptsCsumAndTso_tapOffloadsMatch() {
        start(false);
        assertEquals(Tun.TUN_F_CSUM | Tun.TUN_F_TSO4 | Tun.TUN_F_TSO6, backend.offload);
    }

    @Test
    void activate_guestWithoutGuestCsum_noTapOffloads() {
        start(false, ALL & ~bit(VirtioNet.F_GUEST_CSUM), RateLimiter.unlimited(), RateLimiter.unlimited());
        assertEquals(0, backend.offload);
    }

    @Test
    void close_closesBackend() {
        start(false);
        net.close();
        net = null;
        assertTrue(backend.closed);
    }

    // ---------------------------------------------------------------- transmit

    @ParameterizedTest(name = "packed={0}")
    @ValueSource(booleans = {false, true})
    void transmit_frameAcrossDescriptors_writtenToBackendWithHeader(boolean packed) {
        start(packed);
        int total = writeTxFrame(DATA, 100, 0, 0, 0, 0, 0, 0);
        tx.add(Buffer.readable(DATA, 5), Buffer.readable(DATA + 5, 30), Buffer.readable(DATA + 35, total - 35));

        mmio.notifyQueue(VirtioNet.TX);

        assertTrue(tx.pollUsed());
        assertEquals(0, tx.lastUsedLength());
        assertEquals(1, backend.sent.size());
        byte[] sent = backend.sent.getFirst();
        assertEquals(total, sent.length);
        assertEquals((byte) (7 * 99), sent[NetHeader.SIZE + 99]);
        assertEquals(1, net.txFrames());
        assertEquals(100, net.txBytes());
        assertTrue(irq.edges() > 0);
    }

    @ParameterizedTest(name = "packed={0}")
    @ValueSource(booleans = {false, true})
    void transmit_tsoFrameWithChecksumOffload_passedThrough(boolean packed) {
        start(packed);
        int total = writeTxFrame(DATA, 3000, NetHeader.F_NEEDS_CSUM, NetHeader.GSO_TCPV4, 1448, 34, 16, 0);
        tx.add(DATA, total, false);

        mmio.notifyQueue(VirtioNet.TX);

        assertEquals(1, backend.sent.size());
        assertEquals(NetHeader.GSO_TCPV4, backend.sent.getFirst()[NetHeader.GSO_TYPE]);
    }

    static Stream<Arguments> badTransmits() {
        // flags, gsoType, gsoSize, csumStart, csumOffset, numBuffers, frame length, expected
        return Stream.of(
                Arguments.of(0, 0, 0, 0, 0, 0, 0, NetRejection.TX_FRAME_TOO_SHORT),
                Arguments.of(0, 0, 0, 0, 0, 0, 13, NetRejection.TX_FRAME_TOO_SHORT),
                Arguments.of(0, 0, 0, 0, 0, 0, NetHeader.MAX_FRAME + 1, NetRejection.TX_FRAME_TOO_LONG),
                Arguments.of(NetHeader.F_DATA_VALID, 0, 0, 0, 0, 0, 60, NetRejection.TX_BAD_FLAGS),
                Arguments.of(NetHeader.F_NEEDS_CSUM, 0, 0, 50, 10, 0, 60, NetRejection.TX_CSUM_OUT_OF_FRAME),
                Arguments.of(NetHeader.F_NEEDS_CSUM, NetHeader.GSO_UDP, 1000, 34, 6, 0, 60, NetRejection.TX_GSO_NOT_NEGOTIATED),
                Arguments.of(NetHeader.F_NEEDS_CSUM, NetHeader.GSO_TCPV4 | NetHeader.GSO_ECN, 1000, 34, 16, 0, 60, NetRejection.TX_GSO_NOT_NEGOTIATED),
                Arguments.of(0, NetHeader.GSO_TCPV4, 1000, 0, 0, 0, 60, NetRejection.TX_GSO_WITHOUT_CSUM),
                Arguments.of(NetHeader.F_NEEDS_CSUM, NetHeader.GSO_TCPV6, 0, 54, 16, 0, 80, NetRejection.TX_BAD_GSO_SIZE),
                Arguments.of(0, 0, 0, 0, 0, 3, 60, NetRejection.TX_BAD_NUM_BUFFERS));
    }

    @ParameterizedTest(name = "{7}")
    @MethodSource("badTransmits")
    void transmit_hostileHeader_rejectedCountedNothingSent(int flags, int gso, int gsoSize, int csumStart, int csumOffset,
                                                           int numBuffers, int length, NetRejection expected) {
        for (boolean packed : new boolean[] {false, true}) {
            backend.sent.clear();
            if (net != null) {
                net.close();
            }
            start(packed);
            int total = writeTxFrame(DATA, length, flags, gso, gsoSize, csumStart, csumOffset, numBuffers);
            tx.add(DATA, total, false);

            mmio.notifyQueue(VirtioNet.TX);

            assertTrue(tx.pollUsed());
            assertEquals(0, tx.lastUsedLength());
            assertTrue(backend.sent.isEmpty(), "nothing may reach the tap");
            assertEquals(1, net.rejections(expected), expected.name());
        }
    }

    @ParameterizedTest(name = "packed={0}")
    @ValueSource(booleans = {false, true})
    void transmit_checksumWithoutCsumFeature_rejected(boolean packed) {
        start(packed, ALL & ~bit(VirtioNet.F_CSUM) & ~bit(VirtioNet.F_HOST_TSO4) & ~bit(VirtioNet.F_HOST_TSO6),
                RateLimiter.unlimited(), RateLimiter.unlimited());
        tx.add(DATA, writeTxFrame(DATA, 60, NetHeader.F_NEEDS_CSUM, 0, 0, 34, 16, 0), false);

        mmio.notifyQueue(VirtioNet.TX);

        assertEquals(1, net.rejections(NetRejection.TX_CSUM_NOT_NEGOTIATED));
        assertTrue(backend.sent.isEmpty());
    }

    @ParameterizedTest(name = "packed={0}")
    @ValueSource(booleans = {false, true})
    void transmit_headerOnlyOrShorter_rejected(boolean packed) {
        start(packed);
        writeTxFrame(DATA, 0, 0, 0, 0, 0, 0, 0);
        tx.add(DATA, 8, false);
        tx.add(DATA, NetHeader.SIZE, false);

        mmio.notifyQueue(VirtioNet.TX);

        assertEquals(1, net.rejections(NetRejection.TX_HEADER_TOO_SHORT));
        assertEquals(1, net.rejections(NetRejection.TX_FRAME_TOO_SHORT));
        assertTrue(backend.sent.isEmpty());
    }

    @ParameterizedTest(name = "packed={0}")
    @ValueSource(booleans = {false, true})
    void transmit_writableBuffer_rejected(boolean packed) {
        start(packed);
        tx.add(Buffer.readable(DATA, writeTxFrame(DATA, 60, 0, 0, 0, 0, 0, 0)), Buffer.writable(DATA + 0x1000, 16));

        mmio.notifyQueue(VirtioNet.TX);

        assertEquals(1, net.rejections(NetRejection.TX_WRITABLE_BUFFER));
        assertTrue(backend.sent.isEmpty());
    }

    @Test
    void transmit_headerRewrittenAfterValidation_validatedCopyIsSent() {
        start(false);
        int total = writeTxFrame(DATA, 60, 0, 0, 0, 0, 0, 0);
        tx.add(DATA, total, false);
        mmio.notifyQueue(VirtioNet.TX);
        // What went out is the copy checked, with num_buffers 0, whatever the guest writes now.
        memory.writeShort(DATA + NetHeader.NUM_BUFFERS, (short) 9);
        assertEquals(0, backend.sent.getFirst()[NetHeader.NUM_BUFFERS]);
    }

    @ParameterizedTest(name = "packed={0}")
    @ValueSource(booleans = {false, true})
    void transmit_rateLimited_secondFrameWaitsForTimer(boolean packed) {
        RateLimiter limit = new RateLimiter(Optional.of(new RateLimiter.Limit(100, 1000)), Optional.empty(), env.nanoTime());
        start(packed, ALL, RateLimiter.unlimited(), limit);
        tx.add(DATA, writeTxFrame(DATA, 80, 0, 0, 0, 0, 0, 0), false);
        tx.add(DATA + 0x1000, writeTxFrame(DATA + 0x1000, 80, 0, 0, 0, 0, 0, 0), false);

        mmio.notifyQueue(VirtioNet.TX);
        assertEquals(1, backend.sent.size());
        assertEquals(1, env.pendingTimers());

        env.advance(1_100_000_000L);
        assertEquals(2, backend.sent.size());
    }

    // ---------------------------------------------------------------- receive

    @ParameterizedTest(name = "packed={0}")
    @ValueSource(booleans = {false, true})
    void receive_frameInOneBuffer_copiedWithNumBuffersOne(boolean packed) {
        start(packed);
        int id = rx.add(DATA, 2048, true);
        backend.incoming.add(tapFrame(100, 1));

        env.fireReadable();

        assertTrue(rx.pollUsed());
        assertEquals(id, rx.lastUsedId());
        assertEquals(NetHeader.SIZE + 100, rx.lastUsedLength());
        assertEquals(1, memory.readShort(DATA + NetHeader.NUM_BUFFERS));
        assertEquals((byte) 100, memory.readByte(DATA + NetHeader.SIZE + 99));
        assertEquals(1, net.rxFrames());
        assertTrue(irq.edges() > 0);
    }

    @ParameterizedTest(name = "packed={0}")
    @ValueSource(booleans = {false, true})
    void receive_largeFrameMergeable_spansChainsAndCountsThem(boolean packed) {
        start(packed);
        for (int i = 0; i < 8; i++) {
            rx.add(DATA + i * 0x1000L, 1526, true);
        }
        backend.incoming.add(tapFrame(4000, 0));

        env.fireReadable();

        int[] lengths = new int[3];
        for (int i = 0; i < 3; i++) {
            assertTrue(rx.pollUsed());
            lengths[i] = rx.lastUsedLength();
        }
        assertFalse(rx.pollUsed());
        assertArrayEquals(new int[] {1526, 1526, NetHeader.SIZE + 4000 - 2 * 1526}, lengths);
        assertEquals(3, memory.readShort(DATA + NetHeader.NUM_BUFFERS));
        // Byte k of the frame sits at offset 12 + k of the concatenated buffers.
        int k = 3000;
        int at = NetHeader.SIZE + k;
        assertEquals((byte) k, memory.readByte(DATA + (at / 1526) * 0x1000L + at % 1526));
    }

    @ParameterizedTest(name = "packed={0}")
    @ValueSource(booleans = {false, true})
    void receive_noGuestBuffers_frameWaitsAndArrivesOnKick(boolean packed) {
        start(packed);
        backend.incoming.add(tapFrame(64, 5));
        backend.incoming.add(tapFrame(64, 6));
        env.fireReadable();
        assertEquals(0, net.rxFrames());
        assertEquals(1, backend.incoming.size(), "one frame waits in the device, the other stays in the tap");

        rx.add(DATA, 2048, true);
        rx.add(DATA + 0x1000, 2048, true);
        mmio.notifyQueue(VirtioNet.RX);

        assertEquals(2, net.rxFrames());
        assertTrue(rx.pollUsed());
        assertEquals((byte) 5, memory.readByte(DATA + NetHeader.SIZE));
        assertTrue(rx.pollUsed());
        assertEquals((byte) 6, memory.readByte(DATA + 0x1000 + NetHeader.SIZE));
        assertEquals(0, net.rejections(NetRejection.RX_FRAME_TOO_LARGE), "nothing dropped");
    }

    @ParameterizedTest(name = "packed={0}")
    @ValueSource(booleans = {false, true})
    void receive_chainTooSmallForHeader_rejectedNextChainUsed(boolean packed) {
        start(packed);
        rx.add(DATA, 8, true);
        rx.add(DATA + 0x1000, 2048, true);
        backend.incoming.add(tapFrame(64, 0));

        env.fireReadable();

        assertEquals(1, net.rejections(NetRejection.RX_BUFFER_TOO_SMALL));
        assertEquals(1, net.rxFrames());
    }

    @ParameterizedTest(name = "packed={0}")
    @ValueSource(booleans = {false, true})
    void receive_readableBuffer_rejected(boolean packed) {
        start(packed);
        rx.add(DATA, 2048, false);
        rx.add(DATA + 0x1000, 2048, true);
        backend.incoming.add(tapFrame(64, 0));

        env.fireReadable();

        assertEquals(1, net.rejections(NetRejection.RX_READABLE_BUFFER));
        assertEquals(1, net.rxFrames());
    }

    @ParameterizedTest(name = "packed={0}")
    @ValueSource(booleans = {false, true})
    void receive_withoutMergeableFrameLargerThanChain_droppedAndChainKeptForNext(boolean packed) {
        start(packed, ALL & ~bit(VirtioNet.F_MRG_RXBUF), RateLimiter.unlimited(), RateLimiter.unlimited());
        rx.add(DATA, 1526, true);
        backend.incoming.add(tapFrame(3000, 0));
        backend.incoming.add(tapFrame(100, 9));

        env.fireReadable();

        assertEquals(1, net.rejections(NetRejection.RX_FRAME_TOO_LARGE));
        assertTrue(rx.pollUsed());
        assertEquals(NetHeader.SIZE + 100, rx.lastUsedLength());
        assertEquals((byte) 9, memory.readByte(DATA + NetHeader.SIZE));
    }

    @ParameterizedTest(name = "packed={0}")
    @ValueSource(booleans = {false, true})
    void receive_everyChainTiny_frameDroppedChainsReturned(boolean packed) {
        start(packed);
        for (int i = 0; i < 64; i++) {
            rx.add(DATA + i * 64L, 16, true);
        }
        backend.incoming.add(tapFrame(2000, 0));

        env.fireReadable();

        assertEquals(1, net.rejections(NetRejection.RX_FRAME_TOO_LARGE));
        assertEquals(0, net.rxFrames());
        int returned = 0;
        while (rx.pollUsed()) {
            assertEquals(0, rx.lastUsedLength());
            returned++;
        }
        assertEquals(64, returned);
    }

    @ParameterizedTest(name = "packed={0}")
    @ValueSource(booleans = {false, true})
    void receive_rateLimited_secondFrameWaitsForTimer(boolean packed) {
        RateLimiter limit = new RateLimiter(Optional.empty(), Optional.of(new RateLimiter.Limit(1, 1000)), env.nanoTime());
        start(packed, ALL, limit, RateLimiter.unlimited());
        rx.add(DATA, 2048, true);
        rx.add(DATA + 0x1000, 2048, true);
        backend.incoming.add(tapFrame(64, 0));
        backend.incoming.add(tapFrame(64, 1));

        env.fireReadable();
        assertEquals(1, net.rxFrames());

        env.advance(1_100_000_000L);
        assertEquals(2, net.rxFrames());
    }

    @Test
    void reset_pendingFrameDropped_deviceWorksAfterRenegotiation() {
        start(false);
        backend.incoming.add(tapFrame(64, 0));
        env.fireReadable(); // waits: no buffers
        mmio.write(MmioDriver.STATUS, 0);

        assertTrue(mmio.negotiate((ALL | bit(VirtioFeatures.RING_PACKED)) & mmio.deviceFeatures()));
        rx = GuestDriver.packed(memory, RX_RING, 64, true);
        tx = GuestDriver.packed(memory, TX_RING, 64, true);
        mmio.setupQueue(0, rx);
        mmio.setupQueue(1, tx);
        mmio.driverOk();
        rx.add(DATA, 2048, true);
        backend.incoming.add(tapFrame(64, 3));
        mmio.notifyQueue(VirtioNet.RX);

        assertTrue(rx.pollUsed());
        assertEquals((byte) 3, memory.readByte(DATA + NetHeader.SIZE));
        assertEquals(1, net.rxFrames());
    }

    @Test
    void macAddress_parseAndFormat_roundTrip() {
        assertEquals("02:11:22:33:44:55", MAC.toString());
        assertThrows(IllegalArgumentException.class, () -> MacAddress.parse("01:00:5e:00:00:01"));
        assertThrows(IllegalArgumentException.class, () -> MacAddress.parse("02:00:00:00:00"));
        assertThrows(IllegalArgumentException.class, () -> MacAddress.parse("02:00:00:00:00:zz"));
        MacAddress random = MacAddress.random(new java.util.Random(1));
        assertFalse(random.isMulticast());
        assertEquals(2, random.octet(0) & 3, "locally administered unicast");
    }

    @Test
    void config_badTapNameOrMulticastMac_problemsNamed() {
        NetDeviceConfig c = new NetDeviceConfig("this-name-is-too-long", new MacAddress(0x01_00_5e_00_00_01L),
                Optional.empty(), Optional.empty(), Optional.empty(), Optional.empty(), true, true);
        assertEquals(2, c.problems().size(), c.problems().toString());
        assertTrue(NetDeviceConfig.of("tap0").problems().isEmpty());
        assertFalse(Arrays.asList(NetDeviceConfig.of("a/b").problems()).isEmpty());
    }
}
