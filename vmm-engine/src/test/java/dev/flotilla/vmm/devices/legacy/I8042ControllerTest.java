package dev.flotilla.vmm.devices.legacy;

import dev.flotilla.vmm.testing.RecordingIrqLine;
import org.junit.jupiter.api.Test;

import java.util.concurrent.atomic.AtomicInteger;

import static dev.flotilla.vmm.devices.legacy.I8042Controller.*;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

class I8042ControllerTest {

    private final AtomicInteger resets = new AtomicInteger();
    private final RecordingIrqLine irq = new RecordingIrqLine();
    private final I8042Controller i8042 = new I8042Controller(irq, resets::incrementAndGet);

    @Test
    void pulseResetCommand_requestsResetOnce() {
        i8042.write(COMMAND, 1, CMD_PULSE_RESET);
        i8042.write(COMMAND, 1, CMD_PULSE_RESET);
        assertEquals(1, resets.get());
        assertTrue(i8042.resetRequested());
    }

    @Test
    void outputPortWriteWithResetLineLow_requestsReset() {
        i8042.write(COMMAND, 1, CMD_WRITE_OUTPUT_PORT);
        i8042.write(DATA, 1, 0x00);
        assertEquals(1, resets.get());
    }

    @Test
    void selfTest_replies0x55AndSetsSystemFlag() {
        i8042.write(COMMAND, 1, CMD_SELF_TEST);
        assertEquals(STATUS_OUTPUT_FULL, i8042.read(COMMAND, 1) & STATUS_OUTPUT_FULL);
        assertEquals(SELF_TEST_PASSED, i8042.read(DATA, 1));
        assertEquals(STATUS_SYSTEM, i8042.read(COMMAND, 1) & (STATUS_SYSTEM | STATUS_OUTPUT_FULL));
    }

    @Test
    void controlByte_writeThenRead_roundTrips() {
        i8042.write(COMMAND, 1, CMD_WRITE_CTR);
        i8042.write(DATA, 1, 0x45);
        i8042.write(COMMAND, 1, CMD_READ_CTR);
        assertEquals(0x45, i8042.read(DATA, 1));
        assertFalse(i8042.resetRequested());
    }

    @Test
    void keyboardReset_acksThenPassesSelfTest_withInterrupt() {
        i8042.write(DATA, 1, KBD_RESET);
        assertEquals(KBD_ACK, i8042.read(DATA, 1));
        assertEquals(KBD_SELF_TEST_PASSED, i8042.read(DATA, 1));
        assertEquals(0, i8042.read(COMMAND, 1) & STATUS_OUTPUT_FULL);
        assertEquals(2, irq.edges());
    }

    @Test
    void unknownCommand_hasNoEffect() {
        i8042.write(COMMAND, 1, 0xF0);
        assertEquals(0, resets.get());
        assertEquals(0, i8042.read(COMMAND, 1) & STATUS_OUTPUT_FULL);
    }
}
