package dev.flotilla.vmm.bus;

import dev.flotilla.vmm.testing.RecordingDevice;
import org.junit.jupiter.api.Test;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

class BusTest {

    @Test
    void register_overlappingRange_isRefusedNamingBothDevices() {
        Bus bus = new Bus("port I/O");
        bus.register(0x3F8, 8, new RecordingDevice(0), "COM1");
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
                () -> bus.register(0x3FF, 2, new RecordingDevice(0), "other"));
        assertTrue(e.getMessage().contains("COM1") && e.getMessage().contains("other"), e.getMessage());
    }

    @Test
    void register_rangeEndingWhereAnotherStarts_isAccepted() {
        Bus bus = new Bus("MMIO");
        bus.register(0x2000, 0x1000, new RecordingDevice(0), "b");
        bus.register(0x1000, 0x1000, new RecordingDevice(0), "a");
        bus.register(0x3000, 0x1000, new RecordingDevice(0), "c");
        assertTrue(bus.isClaimed(0x1FFF));
        assertTrue(bus.isClaimed(0x2000));
        assertFalse(bus.isClaimed(0x4000));
    }

    @Test
    void register_rangeContainingAnother_isRefused() {
        Bus bus = new Bus("MMIO");
        bus.register(0x2000, 0x10, new RecordingDevice(0), "inner");
        assertThrows(IllegalArgumentException.class, () -> bus.register(0x1000, 0x10000, new RecordingDevice(0), "outer"));
    }

    @Test
    void register_emptyOrWrappingRange_isRefused() {
        Bus bus = new Bus("MMIO");
        assertThrows(IllegalArgumentException.class, () -> bus.register(0x1000, 0, new RecordingDevice(0), "empty"));
        assertThrows(IllegalArgumentException.class, () -> bus.register(Long.MAX_VALUE, 2, new RecordingDevice(0), "wrap"));
    }

    @Test
    void access_insideRange_reachesDeviceWithOffset() {
        Bus bus = new Bus("port I/O");
        RecordingDevice d = new RecordingDevice(0x42);
        bus.register(0x60, 5, d, "i8042");
        bus.write(0x64, 1, 0xFE);
        assertEquals(0x42, bus.read(0x60, 1));
        assertEquals(new RecordingDevice.Access(true, 4, 1, 0xFE), d.accesses().get(0));
        assertEquals(new RecordingDevice.Access(false, 0, 1, 0x42), d.accesses().get(1));
    }

    @Test
    void read_unclaimedAddress_returnsAllOnesOfTheAccessSize() {
        Bus bus = new Bus("port I/O");
        assertEquals(0xFF, bus.read(0x80, 1));
        assertEquals(0xFFFF, bus.read(0x80, 2));
        assertEquals(0xFFFF_FFFFL, bus.read(0x80, 4));
        assertEquals(-1L, bus.read(0x80, 8));
        assertEquals(4, bus.unknownAccesses());
    }

    @Test
    void write_unclaimedAddress_isIgnoredAndCounted() {
        Bus bus = new Bus("MMIO");
        RecordingDevice d = new RecordingDevice(0);
        bus.register(0x1000, 0x10, d, "d");
        bus.write(0x1010, 4, 1);
        assertTrue(d.accesses().isEmpty());
        assertEquals(1, bus.unknownAccesses());
    }
}
