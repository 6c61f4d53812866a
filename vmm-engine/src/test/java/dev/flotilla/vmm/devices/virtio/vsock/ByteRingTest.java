package dev.flotilla.vmm.devices.virtio.vsock;

import dev.flotilla.vmm.memory.GuestMemory;
import dev.flotilla.vmm.memory.GuestMemoryException;
import dev.flotilla.vmm.memory.SegmentGuestMemory;
import org.junit.jupiter.api.Test;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

/** The guest-memory copies of the connection buffers: across the wrap, bounded, and all or nothing. */
class ByteRingTest {
    final GuestMemory memory = SegmentGuestMemory.ofHeap(0x10000);

    static byte[] pattern(int n, int seed) {
        byte[] b = new byte[n];
        for (int i = 0; i < n; i++) {
            b[i] = (byte) (i * 7 + seed);
        }
        return b;
    }

    @Test
    void writeFromGuestAndPeekToGuest_acrossTheWrap_keepTheBytesInOrder() {
        ByteRing ring = new ByteRing(4096);
        ring.write(new byte[3000], 0, 3000);
        ring.skip(3000); // head at 3000 of a 4096-byte array: the next 2000 bytes wrap
        byte[] sent = pattern(2000, 1);
        memory.write(0x1000, sent, 0, sent.length);

        assertEquals(2000, ring.write(memory, 0x1000, 2000));
        ring.peek(500, memory, 0x8000, 1500);

        byte[] back = new byte[1500];
        memory.read(0x8000, back, 0, back.length);
        assertArrayEquals(java.util.Arrays.copyOfRange(sent, 500, 2000), back);
        byte[] all = new byte[2000];
        assertEquals(2000, ring.read(all, 0, 2000));
        assertArrayEquals(sent, all);
    }

    @Test
    void writeFromGuest_takesOnlyWhatFits_andPeekBeyondTheBytesHeldIsRefused() {
        ByteRing ring = new ByteRing(100);
        memory.write(0x1000, pattern(150, 3), 0, 150);
        assertEquals(100, ring.write(memory, 0x1000, 150));
        assertThrows(IndexOutOfBoundsException.class, () -> ring.peek(50, memory, 0x8000, 51));
    }

    @Test
    void writeFromGuest_outsideGuestMemory_leavesTheRingAsItWas() {
        ByteRing ring = new ByteRing(4096);
        ring.write(new byte[] {1, 2, 3}, 0, 3);
        assertThrows(GuestMemoryException.class, () -> ring.write(memory, 0xFF00, 0x200));
        assertEquals(3, ring.size());
        ring.truncate(1);
        assertEquals(1, ring.size());
    }
}
