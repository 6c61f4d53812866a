package dev.flotilla.vmm.devices.legacy;

import dev.flotilla.vmm.testing.RecordingIrqLine;
import org.junit.jupiter.api.Test;

import java.io.ByteArrayOutputStream;
import java.nio.charset.StandardCharsets;

import static dev.flotilla.vmm.devices.legacy.Serial16550.*;
import static org.junit.jupiter.api.Assertions.assertEquals;

class Serial16550Test {

    private final RecordingIrqLine irq = new RecordingIrqLine();
    private final ByteArrayOutputStream out = new ByteArrayOutputStream();
    private final Serial16550 uart = new Serial16550(irq, out);

    @Test
    void thrWrite_goesToSink() {
        for (byte b : "hi\n".getBytes(StandardCharsets.US_ASCII)) {
            uart.write(DATA, 1, b);
        }
        assertEquals("hi\n", out.toString(StandardCharsets.US_ASCII));
    }

    @Test
    void lsr_idle_reportsTransmitterEmptyAndNoData() {
        assertEquals(LSR_THR_EMPTY | LSR_IDLE, uart.read(LSR, 1));
    }

    @Test
    void dlab_set_banksDivisorLatchOverDataAndIer() {
        uart.write(LCR, 1, LCR_DLAB | 0x03);
        uart.write(DATA, 1, 0x01);
        uart.write(IER, 1, 0x00);
        assertEquals(0x01, uart.read(DATA, 1));
        assertEquals(0x00, uart.read(IER, 1));
        assertEquals("", out.toString(), "a divisor write is not output");
        uart.write(LCR, 1, 0x03);
        assertEquals(0, uart.read(IER, 1), "IER unchanged by the DLM write");
    }

    @Test
    void input_withDataInterruptEnabled_raisesIrqAndReadsBack() {
        uart.write(IER, 1, IER_RDA);
        byte[] in = {'a', 'b'};
        assertEquals(2, uart.enqueueInput(in, 0, 2));
        assertEquals(1, irq.edges());
        assertEquals(IIR_RDA | IIR_FIFO_ENABLED, uart.read(IIR_FCR, 1));
        assertEquals(LSR_DATA_READY, uart.read(LSR, 1) & LSR_DATA_READY);
        assertEquals('a', uart.read(DATA, 1));
        assertEquals('b', uart.read(DATA, 1));
        assertEquals(0, uart.read(LSR, 1) & LSR_DATA_READY);
        assertEquals(IIR_NONE | IIR_FIFO_ENABLED, uart.read(IIR_FCR, 1));
    }

    @Test
    void input_beyondFifoCapacity_isRefusedNotDropped() {
        byte[] in = new byte[RX_FIFO_CAPACITY + 10];
        assertEquals(RX_FIFO_CAPACITY, uart.enqueueInput(in, 0, in.length));
        assertEquals(0, uart.inputSpace());
        assertEquals(0, uart.enqueueInput(in, 0, 1));
    }

    @Test
    void enablingThrEmptyInterrupt_raisesItOnce_andIirReadAcknowledges() {
        uart.write(IER, 1, IER_THRE);
        assertEquals(1, irq.edges());
        assertEquals(IIR_THRE | IIR_FIFO_ENABLED, uart.read(IIR_FCR, 1));
        assertEquals(IIR_NONE | IIR_FIFO_ENABLED, uart.read(IIR_FCR, 1));
        uart.write(DATA, 1, 'x');
        assertEquals(2, irq.edges(), "each transmitted byte empties THR again");
    }

    @Test
    void loopback_thrWriteComesBackAsInputAndModemLinesFollowMcr() {
        uart.write(MCR, 1, MCR_LOOP | MCR_OUT2 | MCR_RTS);
        assertEquals(MSR_DCD | MSR_CTS, uart.read(MSR, 1));
        uart.write(DATA, 1, 'z');
        assertEquals("", out.toString());
        assertEquals('z', uart.read(DATA, 1));
    }

    @Test
    void msr_normalMode_reportsCarrierDsrCts() {
        assertEquals(MSR_DCD | MSR_DSR | MSR_CTS, uart.read(MSR, 1));
    }

    @Test
    void scratchRegister_holdsWhatWasWritten() {
        uart.write(SCR, 1, 0xA5);
        assertEquals(0xA5, uart.read(SCR, 1));
    }

    @Test
    void fcrClearReceive_emptiesTheFifo() {
        uart.enqueueInput(new byte[]{1, 2, 3}, 0, 3);
        uart.write(IIR_FCR, 1, 0x03);
        assertEquals(0, uart.read(LSR, 1) & LSR_DATA_READY);
    }
}
