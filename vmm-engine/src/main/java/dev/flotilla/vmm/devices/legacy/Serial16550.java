package dev.flotilla.vmm.devices.legacy;

import dev.flotilla.vmm.bus.BusDevice;
import dev.flotilla.vmm.interrupt.IrqLine;

import java.io.IOException;
import java.io.OutputStream;

/**
 * A 16550A UART (the console on COM1): eight registers, DLAB-banked divisor latch, loopback,
 * a bounded receive FIFO, and interrupts for "data received" and "transmitter empty" through an
 * {@link IrqLine}. Transmission is instantaneous: a byte written to THR goes straight to the sink.
 *
 * <p>Owns no threads or fds: the host feeds input with {@link #enqueueInput}, the guest drains it.
 * Guest-facing surface: register reads and writes only; nothing the guest writes sizes a buffer.
 */
public final class Serial16550 implements BusDevice {

    /**
     * Receive FIFO capacity. A 16550's FIFO is 16 bytes; 64 (as vm-superio uses) absorbs pasted
     * lines, while bounding what the host may queue while the guest is not reading.
     */
    public static final int RX_FIFO_CAPACITY = 64;

    static final int DATA = 0;          // RBR (read), THR (write); DLL with DLAB
    static final int IER = 1;           // DLM with DLAB
    static final int IIR_FCR = 2;
    static final int LCR = 3;
    static final int MCR = 4;
    static final int LSR = 5;
    static final int MSR = 6;
    static final int SCR = 7;

    static final int IER_RDA = 0x01;
    static final int IER_THRE = 0x02;
    static final int IER_MASK = 0x0F;
    static final int IIR_NONE = 0x01;
    static final int IIR_THRE = 0x02;
    static final int IIR_RDA = 0x04;
    static final int IIR_FIFO_ENABLED = 0xC0;
    static final int LCR_DLAB = 0x80;
    static final int MCR_DTR = 0x01;
    static final int MCR_RTS = 0x02;
    static final int MCR_OUT1 = 0x04;
    static final int MCR_OUT2 = 0x08;
    static final int MCR_LOOP = 0x10;
    static final int MCR_MASK = 0x1F;
    static final int LSR_DATA_READY = 0x01;
    static final int LSR_THR_EMPTY = 0x20;
    static final int LSR_IDLE = 0x40;
    static final int MSR_CTS = 0x10;
    static final int MSR_DSR = 0x20;
    static final int MSR_RI = 0x40;
    static final int MSR_DCD = 0x80;

    private final IrqLine irq;
    private final OutputStream sink;

    private final byte[] rx = new byte[RX_FIFO_CAPACITY];
    private int rxHead;
    private int rxCount;

    private int ier;
    private int lcr = 0x03;           // 8 data bits, no parity, one stop bit
    private int mcr = MCR_OUT2;
    private int scr;
    private int divisor = 12;         // 9600 baud from the 1.8432 MHz clock
    private boolean thrEmptyPending;
    private long outputErrors;

    public Serial16550(IrqLine irq, OutputStream sink) {
        this.irq = irq;
        this.sink = sink;
    }

    @Override
    public synchronized long read(long offset, int size) {
        return switch ((int) offset) {
            case DATA -> (lcr & LCR_DLAB) != 0 ? divisor & 0xFF : readReceiveBuffer();
            case IER -> (lcr & LCR_DLAB) != 0 ? (divisor >>> 8) & 0xFF : ier;
            case IIR_FCR -> readInterruptIdentification();
            case LCR -> lcr;
            case MCR -> mcr;
            case LSR -> (rxCount > 0 ? LSR_DATA_READY : 0) | LSR_THR_EMPTY | LSR_IDLE;
            case MSR -> modemStatus();
            case SCR -> scr;
            default -> 0xFF;
        };
    }

    @Override
    public synchronized void write(long offset, int size, long value) {
        int v = (int) (value & 0xFF);
        switch ((int) offset) {
            case DATA -> {
                if ((lcr & LCR_DLAB) != 0) {
                    divisor = (divisor & 0xFF00) | v;
                } else {
                    transmit(v);
                }
            }
            case IER -> {
                if ((lcr & LCR_DLAB) != 0) {
                    divisor = (divisor & 0x00FF) | (v << 8);
                } else {
                    int before = ier;
                    ier = v & IER_MASK;
                    // Enabling the THRE interrupt with an empty THR (always, here) raises it at once.
                    if ((ier & IER_THRE) != 0 && (before & IER_THRE) == 0) {
                        thrEmptyPending = true;
                    }
                    updateInterrupt();
                }
            }
            case IIR_FCR -> {
                // FCR: bit 1 clears the receive FIFO; FIFOs are always on otherwise.
                if ((v & 0x02) != 0) {
                    rxHead = 0;
                    rxCount = 0;
                }
            }
            case LCR -> lcr = v;
            case MCR -> mcr = v & MCR_MASK;
            case SCR -> scr = v;
            default -> {
                // LSR and MSR are read-only: writes are ignored, as on a real 16550.
            }
        }
    }

    private int readReceiveBuffer() {
        if (rxCount == 0) {
            return 0;
        }
        int b = rx[rxHead] & 0xFF;
        rxHead = (rxHead + 1) % RX_FIFO_CAPACITY;
        rxCount--;
        return b;
    }

    private int readInterruptIdentification() {
        int id;
        if ((ier & IER_RDA) != 0 && rxCount > 0) {
            id = IIR_RDA;
        } else if ((ier & IER_THRE) != 0 && thrEmptyPending) {
            id = IIR_THRE;
            thrEmptyPending = false; // reading IIR acknowledges the THRE interrupt
        } else {
            id = IIR_NONE;
        }
        return id | IIR_FIFO_ENABLED;
    }

    private int modemStatus() {
        if ((mcr & MCR_LOOP) != 0) {
            int msr = 0;
            if ((mcr & MCR_RTS) != 0) msr |= MSR_CTS;
            if ((mcr & MCR_DTR) != 0) msr |= MSR_DSR;
            if ((mcr & MCR_OUT1) != 0) msr |= MSR_RI;
            if ((mcr & MCR_OUT2) != 0) msr |= MSR_DCD;
            return msr;
        }
        return MSR_DCD | MSR_DSR | MSR_CTS;
    }

    private void transmit(int b) {
        if ((mcr & MCR_LOOP) != 0) {
            push((byte) b);
        } else {
            try {
                sink.write(b);
                sink.flush();
            } catch (IOException e) {
                outputErrors++; // a closed console must not stop the guest
            }
        }
        thrEmptyPending = true;
        updateInterrupt();
    }

    private boolean push(byte b) {
        if (rxCount == RX_FIFO_CAPACITY) {
            return false;
        }
        rx[(rxHead + rxCount) % RX_FIFO_CAPACITY] = b;
        rxCount++;
        return true;
    }

    private void updateInterrupt() {
        boolean pending = ((ier & IER_RDA) != 0 && rxCount > 0) || ((ier & IER_THRE) != 0 && thrEmptyPending);
        if (pending) {
            irq.pulse();
        }
    }

    /**
     * Host input for the guest. Accepts as many bytes as the FIFO has room for and returns that
     * count (the caller retries the rest later); raises the data interrupt when enabled.
     */
    public synchronized int enqueueInput(byte[] data, int offset, int length) {
        java.util.Objects.checkFromIndexSize(offset, length, data.length);
        int accepted = 0;
        while (accepted < length && push(data[offset + accepted])) {
            accepted++;
        }
        if (accepted > 0 && (mcr & MCR_LOOP) == 0) {
            updateInterrupt();
        }
        return accepted;
    }

    /** Free space in the receive FIFO. */
    public synchronized int inputSpace() {
        return RX_FIFO_CAPACITY - rxCount;
    }

    /** Bytes the sink refused (console closed). */
    public synchronized long outputErrors() {
        return outputErrors;
    }
}
