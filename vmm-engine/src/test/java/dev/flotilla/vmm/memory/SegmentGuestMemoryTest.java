package dev.flotilla.vmm.memory;

import org.junit.jupiter.api.Test;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.util.List;

import static org.junit.jupiter.api.Assertions.*;

class SegmentGuestMemoryTest {

    @Test
    void readLongs_givesWhatReadLongGivesAtEachOffset() {
        GuestMemory memory = SegmentGuestMemory.ofHeap(4096);
        for (int i = 0; i < 64; i++) {
            memory.writeByte(0x100 + i, (byte) (i * 37 + 1));
        }
        long[] words = new long[9];

        memory.readLongs(0x103, words, 8); // unaligned on purpose

        for (int i = 0; i < 8; i++) {
            assertEquals(memory.readLong(0x103 + 8L * i), words[i], "word " + i);
        }
        assertEquals(0, words[8], "nothing written past count");
    }

    @Test
    void readLongs_rangeLeavingMemory_throwsWithoutCopying() {
        GuestMemory memory = SegmentGuestMemory.ofHeap(4096);
        long[] words = new long[4];
        words[0] = 42;

        assertThrows(GuestMemoryException.class, () -> memory.readLongs(4096 - 24, words, 4));
        assertEquals(42, words[0]);
    }

    @Test
    void hostAddress_nativeRegion_pointsAtTheGuestBytes() {
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment below = arena.allocate(8192, 4096);
            MemorySegment above = arena.allocate(8192, 4096);
            GuestMemory memory = new SegmentGuestMemory(List.of(new MemoryRegion(0, below), new MemoryRegion(0x10_0000, above)));

            assertEquals(below.address() + 0x123, memory.hostAddress(0x123, 16));
            assertEquals(above.address() + 0x2000 - 8, memory.hostAddress(0x10_0000 + 0x2000 - 8, 8));
            // Outside RAM, or across the end of a region: refused, never an address beside the mapping.
            assertThrows(GuestMemoryException.class, () -> memory.hostAddress(0x2000 - 8, 16));
            assertThrows(GuestMemoryException.class, () -> memory.hostAddress(0x8000, 1));
            assertThrows(GuestMemoryException.class, () -> memory.hostAddress(-1, 1));
        }
    }

    @Test
    void hostAddress_heapMemory_isMinusOne() {
        assertEquals(-1, SegmentGuestMemory.ofHeap(4096).hostAddress(0, 16));
    }
}
