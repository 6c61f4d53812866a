package dev.flotilla.vmm.arch.x86_64;

import dev.flotilla.vmm.memory.GuestMemory;
import dev.flotilla.vmm.memory.SegmentGuestMemory;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

import java.nio.charset.StandardCharsets;

import static org.junit.jupiter.api.Assertions.*;

class MpTableTest {

    private final GuestMemory memory = SegmentGuestMemory.ofHeap(0x200000);
    private static final long FP = Layout.MPTABLE_ADDR;
    private static final long TABLE = MpTable.CONFIG_TABLE_ADDR;

    private int sum(long address, int length) {
        int s = 0;
        for (int i = 0; i < length; i++) {
            s += memory.readByte(address + i);
        }
        return s & 0xFF;
    }

    private String ascii(long address, int length) {
        byte[] b = new byte[length];
        memory.read(address, b, 0, length);
        return new String(b, StandardCharsets.US_ASCII);
    }

    private int u8(long address) {
        return Byte.toUnsignedInt(memory.readByte(address));
    }

    @Test
    void write_floatingPointer_hasSignatureChecksumAndTablePointer() {
        MpTable.write(memory, 2);
        assertEquals("_MP_", ascii(FP, 4));
        assertEquals(TABLE, memory.readInt(FP + 4));
        assertEquals(1, u8(FP + 8), "length in paragraphs");
        assertEquals(4, u8(FP + 9), "spec 1.4");
        assertEquals(0, u8(FP + 11), "feature byte 1: a table is present, no default configuration");
        assertEquals(0, sum(FP, 16));
    }

    @ParameterizedTest
    @ValueSource(ints = {1, 2, 37, 254})
    void write_configTable_checksumsToZero(int vcpus) {
        long end = MpTable.write(memory, vcpus);
        int length = Short.toUnsignedInt(memory.readShort(TABLE + 4));
        assertEquals(MpTable.configTableSize(vcpus), length);
        assertEquals(end, TABLE + length);
        assertEquals("PCMP", ascii(TABLE, 4));
        assertEquals(4, u8(TABLE + 6));
        assertEquals(0, sum(TABLE, length));
        assertEquals(0, memory.readShort(TABLE + 40), "no extended table");
        assertEquals(0, u8(TABLE + 42), "extended checksum of an empty extended table");
    }

    @ParameterizedTest
    @ValueSource(ints = {1, 3, 8})
    void write_oneProcessorEntryPerVcpu_bspOnlyOnCpuZero(int vcpus) {
        MpTable.write(memory, vcpus);
        assertEquals(vcpus + 1 + 1 + 24 + 2, memory.readShort(TABLE + 34), "entry count");
        assertEquals(Layout.LAPIC_ADDR, Integer.toUnsignedLong(memory.readInt(TABLE + 36)));
        for (int cpu = 0; cpu < vcpus; cpu++) {
            long e = TABLE + 44 + cpu * 20L;
            assertEquals(MpTable.ENTRY_PROCESSOR, u8(e));
            assertEquals(cpu, u8(e + 1), "APIC id");
            assertEquals(cpu == 0 ? 3 : 1, u8(e + 3), "enabled, BSP on cpu 0 only");
        }
        assertEquals(MpTable.ENTRY_BUS, u8(TABLE + 44 + vcpus * 20L), "no further processor entries");
    }

    @Test
    void write_busAndIoapicEntries_describeIsaAndTheIoapic() {
        int vcpus = 2;
        MpTable.write(memory, vcpus);
        long bus = TABLE + 44 + vcpus * 20L;
        assertEquals(MpTable.ENTRY_BUS, u8(bus));
        assertEquals("ISA   ", ascii(bus + 2, 6));
        long ioapic = bus + 8;
        assertEquals(MpTable.ENTRY_IOAPIC, u8(ioapic));
        assertEquals(vcpus, u8(ioapic + 1), "IOAPIC id after the CPUs' APIC ids");
        assertEquals(0x11, u8(ioapic + 2));
        assertEquals(1, u8(ioapic + 3), "usable");
        assertEquals(Layout.IOAPIC_ADDR, Integer.toUnsignedLong(memory.readInt(ioapic + 4)));
    }

    @Test
    void write_ioInterrupts_mapIsaIrqsOneToOneToIoapicPins() {
        int vcpus = 2;
        MpTable.write(memory, vcpus);
        long first = TABLE + 44 + vcpus * 20L + 16;
        for (int irq = 0; irq < 24; irq++) {
            long e = first + irq * 8L;
            assertEquals(MpTable.ENTRY_IO_INTERRUPT, u8(e));
            assertEquals(MpTable.INT_TYPE_INT, u8(e + 1));
            assertEquals(MpTable.ISA_BUS_ID, u8(e + 4));
            assertEquals(irq, u8(e + 5), "source bus IRQ");
            assertEquals(vcpus, u8(e + 6), "destination IOAPIC");
            assertEquals(irq, u8(e + 7), "IOAPIC pin");
        }
    }

    @Test
    void write_localInterrupts_areExtIntOnLint0AndNmiOnLint1() {
        int vcpus = 1;
        MpTable.write(memory, vcpus);
        long lint0 = TABLE + 44 + vcpus * 20L + 16 + 24 * 8;
        assertEquals(MpTable.ENTRY_LOCAL_INTERRUPT, u8(lint0));
        assertEquals(MpTable.INT_TYPE_EXTINT, u8(lint0 + 1));
        assertEquals(0xFF, u8(lint0 + 6), "all local APICs");
        assertEquals(0, u8(lint0 + 7));
        long lint1 = lint0 + 8;
        assertEquals(MpTable.ENTRY_LOCAL_INTERRUPT, u8(lint1));
        assertEquals(MpTable.INT_TYPE_NMI, u8(lint1 + 1));
        assertEquals(1, u8(lint1 + 7));
    }

    @ParameterizedTest
    @ValueSource(ints = {0, 255, -1})
    void write_vcpusOutOfRange_isRejected(int vcpus) {
        assertThrows(IllegalArgumentException.class, () -> MpTable.write(memory, vcpus));
    }
}
