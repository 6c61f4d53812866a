package dev.flotilla.vmm.devices.virtio.vsock;

import net.jqwik.api.ForAll;
import net.jqwik.api.Property;
import net.jqwik.api.constraints.IntRange;
import net.jqwik.api.constraints.Size;

import static org.junit.jupiter.api.Assertions.*;

/** Header parsing against arbitrary guest bytes: never throws, round-trips, and validation agrees with the rules. */
class VsockHeaderPropertyTest {

    static final long CID = 42;

    @Property
    void decodeThenEncode_anyBytes_roundTrips(@ForAll @Size(VsockHeader.SIZE) byte[] bytes) {
        byte[] again = new byte[VsockHeader.SIZE];
        new VsockHeader().decode(bytes, 0).encode(again, 0);
        assertArrayEquals(bytes, again);
    }

    @Property
    void validate_anyBytes_acceptsExactlyWellFormedHeaders(@ForAll @Size(VsockHeader.SIZE) byte[] bytes,
                                                           @ForAll @IntRange(min = 0, max = 70_000) int readable) {
        VsockHeader h = new VsockHeader().decode(bytes, 0);
        VsockRejection r = h.validateFromGuest(CID, readable);
        boolean wellFormed = h.srcCid == CID && h.dstCid == VsockHeader.HOST_CID && h.type == VsockHeader.TYPE_STREAM
                && h.op >= VsockHeader.OP_REQUEST && h.op <= VsockHeader.OP_CREDIT_REQUEST
                && h.len <= Math.min(readable, VsockHeader.MAX_PAYLOAD)
                && (h.len == 0 || h.op == VsockHeader.OP_RW)
                && (h.op != VsockHeader.OP_SHUTDOWN || (h.flags & ~3L) == 0);
        assertEquals(wellFormed, r == null, () -> h + " -> " + r);
    }

    @Property
    void validate_plausibleHeaders_rejectionNamesTheFirstBrokenRule(
            @ForAll @IntRange(min = 0, max = 9) int op, @ForAll @IntRange(min = 0, max = 3) int type,
            @ForAll @IntRange(min = 0, max = 70_000) int len, @ForAll @IntRange(min = 0, max = 70_000) int readable,
            @ForAll @IntRange(min = 0, max = 7) int flags) {
        VsockHeader h = new VsockHeader();
        h.srcCid = CID;
        h.dstCid = VsockHeader.HOST_CID;
        h.op = op;
        h.type = type;
        h.len = len;
        h.flags = flags;
        VsockRejection r = h.validateFromGuest(CID, readable);
        if (type != VsockHeader.TYPE_STREAM) {
            assertEquals(VsockRejection.UNKNOWN_TYPE, r);
        } else if (op < 1 || op > 7) {
            assertEquals(VsockRejection.UNKNOWN_OP, r);
        } else if (len > VsockHeader.MAX_PAYLOAD) {
            assertEquals(VsockRejection.PAYLOAD_TOO_LARGE, r);
        } else if (len > readable) {
            assertEquals(VsockRejection.PAYLOAD_TRUNCATED, r);
        } else if (len > 0 && op != VsockHeader.OP_RW) {
            assertEquals(VsockRejection.PAYLOAD_ON_CONTROL_PACKET, r);
        } else if (op == VsockHeader.OP_SHUTDOWN && flags > 3) {
            assertEquals(VsockRejection.UNKNOWN_SHUTDOWN_FLAGS, r);
        } else {
            assertNull(r);
        }
    }
}
