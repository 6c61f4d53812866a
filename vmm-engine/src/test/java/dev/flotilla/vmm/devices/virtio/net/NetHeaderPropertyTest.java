package dev.flotilla.vmm.devices.virtio.net;

import net.jqwik.api.Arbitraries;
import net.jqwik.api.Arbitrary;
import net.jqwik.api.ForAll;
import net.jqwik.api.Property;
import net.jqwik.api.Provide;

import static org.junit.jupiter.api.Assertions.*;

/**
 * Transmit header checks against arbitrary guest bytes: never an exception, and every header
 * accepted is one the negotiated features allow, with its checksum inside the frame.
 */
class NetHeaderPropertyTest {

    @Provide
    Arbitrary<byte[]> headers() {
        // Mostly small field values (so acceptance is common), sometimes anything.
        Arbitrary<byte[]> plausible = Arbitraries.bytes().between((byte) 0, (byte) 5).array(byte[].class).ofSize(NetHeader.SIZE);
        return Arbitraries.oneOf(plausible, Arbitraries.bytes().array(byte[].class).ofSize(NetHeader.SIZE));
    }

    @Property(tries = 2000)
    void checkTransmit_anyHeader_neverThrowsAndAcceptedOnesAreAllowed(
            @ForAll("headers") byte[] header, @ForAll long frameLength,
            @ForAll boolean csum, @ForAll boolean tso4, @ForAll boolean tso6) {
        NetHeader.TxOffloads offloads = new NetHeader.TxOffloads(csum, tso4, tso6);
        long length = Math.floorMod(frameLength, 70_000L);

        NetRejection r = NetHeader.checkTransmit(header, length, offloads);

        if (r == null) {
            int flags = header[NetHeader.FLAGS] & 0xff;
            int gso = header[NetHeader.GSO_TYPE] & 0xff;
            assertTrue(length >= NetHeader.MIN_FRAME && length <= NetHeader.MAX_FRAME);
            assertTrue(flags == 0 || flags == NetHeader.F_NEEDS_CSUM);
            if (flags == NetHeader.F_NEEDS_CSUM) {
                assertTrue(csum);
                int start = (header[6] & 0xff) | (header[7] & 0xff) << 8;
                int offset = (header[8] & 0xff) | (header[9] & 0xff) << 8;
                assertTrue(start + offset + 2 <= length);
            }
            assertTrue(gso == NetHeader.GSO_NONE || (gso == NetHeader.GSO_TCPV4 && tso4) || (gso == NetHeader.GSO_TCPV6 && tso6));
            assertEquals(0, header[10] | header[11]);
        }
    }
}
