package dev.flotilla.vmm.arch.x86_64;

import dev.flotilla.vmm.memory.GuestMemory;
import dev.flotilla.vmm.memory.SegmentGuestMemory;
import org.junit.jupiter.api.Test;

import static org.junit.jupiter.api.Assertions.*;

class BootGdtTest {

    @Test
    void code64_decodesToFlatLongModeCode() {
        assertEquals(new Segment(0, 0xFFFF_FFFF, 0x10, 0xB, true, 0, false, true, true, true, false), BootGdt.code64());
    }

    @Test
    void code32_decodesToFlat32BitCode() {
        assertEquals(new Segment(0, 0xFFFF_FFFF, 0x08, 0xB, true, 0, true, true, false, true, false), BootGdt.code32());
    }

    @Test
    void data_decodesToFlatReadWriteData() {
        assertEquals(new Segment(0, 0xFFFF_FFFF, 0x18, 0x3, true, 0, true, true, false, true, false), BootGdt.data());
    }

    @Test
    void tss_decodesToBusyTssSystemSegment() {
        assertEquals(new Segment(0, 0x67, 0x20, 0xB, true, 0, false, false, false, false, false), BootGdt.tss());
    }

    @Test
    void descriptor_withBaseAndLimit_roundTripsThroughFromGdtEntry() {
        long d = BootGdt.descriptor(0x4093, 0x1234_5678L, 0xABCDE);
        Segment s = Segment.fromGdtEntry(0x28, d);
        assertEquals(0x1234_5678L, s.base());
        assertEquals(0xABCDE, s.limit());
        assertTrue(s.db());
        assertFalse(s.g());
    }

    @Test
    void code64Descriptor_hasKnownEncoding() {
        // The classic flat long-mode code descriptor: base 0, limit 0xFFFFF, access 0x9B, flags 0xA.
        assertEquals(0x00AF_9B00_0000_FFFFL, BootGdt.CODE64_DESCRIPTOR);
        assertEquals(0x00CF_9300_0000_FFFFL, BootGdt.DATA_DESCRIPTOR);
    }

    @Test
    void write_placesDescriptorsAtTheirSelectorsAndZeroesIdt() {
        GuestMemory memory = SegmentGuestMemory.ofHeap(0x10000);
        memory.writeLong(Layout.IDT_ADDR, -1L);
        BootGdt.write(memory);
        assertEquals(0, memory.readLong(Layout.GDT_ADDR));
        assertEquals(BootGdt.code32(), Segment.fromGdtEntry(0x08, memory.readLong(Layout.GDT_ADDR + 0x08)));
        assertEquals(BootGdt.code64(), Segment.fromGdtEntry(0x10, memory.readLong(Layout.GDT_ADDR + 0x10)));
        assertEquals(BootGdt.data(), Segment.fromGdtEntry(0x18, memory.readLong(Layout.GDT_ADDR + 0x18)));
        assertEquals(BootGdt.tss(), Segment.fromGdtEntry(0x20, memory.readLong(Layout.GDT_ADDR + 0x20)));
        assertEquals(0, memory.readLong(Layout.GDT_ADDR + 0x28), "upper half of the 16-byte TSS descriptor");
        assertEquals(0, memory.readLong(Layout.IDT_ADDR));
    }

    @Test
    void gdt_endsBeforeIdt() {
        assertTrue(Layout.GDT_ADDR + BootGdt.GDT_LIMIT + 1 <= Layout.IDT_ADDR);
        assertTrue(BootGdt.TSS_SELECTOR + 16 <= BootGdt.GDT_LIMIT + 1);
    }
}
