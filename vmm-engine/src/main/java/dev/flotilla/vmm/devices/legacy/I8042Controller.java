package dev.flotilla.vmm.devices.legacy;

import dev.flotilla.vmm.bus.BusDevice;
import dev.flotilla.vmm.interrupt.IrqLine;

/**
 * The PS/2 controller (i8042) at ports 0x60 (data) and 0x64 (status/command), with no keyboard
 * or mouse behind it: enough for Linux to probe it quietly and, above all, to reset the machine.
 * Linux with {@code reboot=k} reboots by pulsing the CPU reset line (command 0xFE), which this
 * device reports as a reset request; the VM then ends.
 *
 * <p>Registered over the five ports 0x60..0x64 (offsets 0 and 4 are used; 0x61 belongs to the
 * in-kernel PIT's speaker port and never reaches here).
 */
public final class I8042Controller implements BusDevice {

    static final int DATA = 0;
    static final int COMMAND = 4;

    static final int STATUS_OUTPUT_FULL = 0x01;
    static final int STATUS_SYSTEM = 0x04;
    static final int STATUS_COMMAND = 0x08;
    static final int STATUS_UNLOCKED = 0x10;

    static final int CMD_READ_CTR = 0x20;
    static final int CMD_WRITE_CTR = 0x60;
    static final int CMD_DISABLE_AUX = 0xA7;
    static final int CMD_ENABLE_AUX = 0xA8;
    static final int CMD_TEST_AUX = 0xA9;
    static final int CMD_SELF_TEST = 0xAA;
    static final int CMD_TEST_KBD = 0xAB;
    static final int CMD_DISABLE_KBD = 0xAD;
    static final int CMD_ENABLE_KBD = 0xAE;
    static final int CMD_READ_INPUT_PORT = 0xC0;
    static final int CMD_READ_OUTPUT_PORT = 0xD0;
    static final int CMD_WRITE_OUTPUT_PORT = 0xD1;
    static final int CMD_WRITE_KBD_OUTPUT = 0xD2;
    static final int CMD_WRITE_AUX_OUTPUT = 0xD3;
    static final int CMD_WRITE_AUX = 0xD4;
    static final int CMD_PULSE_RESET = 0xFE;

    static final int CTR_KBD_INTERRUPT = 0x01;
    static final int CTR_KBD_DISABLED = 0x10;
    static final int CTR_AUX_DISABLED = 0x20;

    static final int KBD_ACK = 0xFA;
    static final int KBD_RESET = 0xFF;
    static final int KBD_SELF_TEST_PASSED = 0xAA;
    static final int SELF_TEST_PASSED = 0x55;

    /** Output port bit 0 drives the CPU reset line (active low). */
    static final int OUTPUT_PORT_RESET_HIGH = 0x01;

    private final IrqLine keyboardIrq;
    private final Runnable resetRequest;

    private int status = STATUS_UNLOCKED;
    private int ctr = CTR_KBD_INTERRUPT | CTR_AUX_DISABLED;
    private int outputPort = OUTPUT_PORT_RESET_HIGH;
    private int pendingCommand = -1;
    /** At most two bytes are ever queued (keyboard reset: ACK then self-test result). */
    private final int[] out = new int[4];
    private int outHead;
    private int outCount;
    private boolean resetRequested;

    public I8042Controller(IrqLine keyboardIrq, Runnable resetRequest) {
        this.keyboardIrq = keyboardIrq;
        this.resetRequest = resetRequest;
    }

    @Override
    public synchronized long read(long offset, int size) {
        if (offset == COMMAND) {
            return status | (outCount > 0 ? STATUS_OUTPUT_FULL : 0);
        }
        if (offset == DATA) {
            if (outCount == 0) {
                return 0;
            }
            int b = out[outHead];
            outHead = (outHead + 1) % out.length;
            outCount--;
            return b;
        }
        return 0xFF;
    }

    @Override
    public synchronized void write(long offset, int size, long value) {
        int v = (int) (value & 0xFF);
        if (offset == COMMAND) {
            status |= STATUS_COMMAND;
            command(v);
        } else if (offset == DATA) {
            status &= ~STATUS_COMMAND;
            data(v);
        }
    }

    private void command(int cmd) {
        pendingCommand = -1;
        switch (cmd) {
            case CMD_READ_CTR -> controllerReply(ctr);
            case CMD_WRITE_CTR, CMD_WRITE_OUTPUT_PORT, CMD_WRITE_KBD_OUTPUT, CMD_WRITE_AUX_OUTPUT, CMD_WRITE_AUX ->
                    pendingCommand = cmd;
            case CMD_DISABLE_AUX -> ctr |= CTR_AUX_DISABLED;
            case CMD_ENABLE_AUX -> ctr &= ~CTR_AUX_DISABLED;
            case CMD_TEST_AUX, CMD_TEST_KBD -> controllerReply(0x00);
            case CMD_SELF_TEST -> {
                status |= STATUS_SYSTEM;
                controllerReply(SELF_TEST_PASSED);
            }
            case CMD_DISABLE_KBD -> ctr |= CTR_KBD_DISABLED;
            case CMD_ENABLE_KBD -> ctr &= ~CTR_KBD_DISABLED;
            case CMD_READ_INPUT_PORT -> controllerReply(0x00);
            case CMD_READ_OUTPUT_PORT -> controllerReply(outputPort);
            case CMD_PULSE_RESET -> requestReset();
            default -> {
                // Other commands (pulse lines F0..FD, vendor ones) have no effect here.
            }
        }
    }

    private void data(int v) {
        int cmd = pendingCommand;
        pendingCommand = -1;
        switch (cmd) {
            case CMD_WRITE_CTR -> {
                ctr = v;
                status = (status & ~STATUS_SYSTEM) | (v & STATUS_SYSTEM);
            }
            case CMD_WRITE_OUTPUT_PORT -> {
                outputPort = v;
                if ((v & OUTPUT_PORT_RESET_HIGH) == 0) {
                    requestReset();
                }
            }
            case CMD_WRITE_KBD_OUTPUT -> keyboardReply(v);
            case CMD_WRITE_AUX_OUTPUT, CMD_WRITE_AUX -> {
                // No mouse: bytes for it are dropped.
            }
            default -> {
                // A byte for the keyboard itself: acknowledge it (and pass a reset's self-test).
                keyboardReply(KBD_ACK);
                if (v == KBD_RESET) {
                    keyboardReply(KBD_SELF_TEST_PASSED);
                }
            }
        }
    }

    private void controllerReply(int b) {
        enqueue(b);
    }

    private void keyboardReply(int b) {
        if (enqueue(b) && (ctr & CTR_KBD_INTERRUPT) != 0) {
            keyboardIrq.pulse();
        }
    }

    private boolean enqueue(int b) {
        if (outCount == out.length) {
            return false;
        }
        out[(outHead + outCount) % out.length] = b;
        outCount++;
        return true;
    }

    private void requestReset() {
        if (!resetRequested) {
            resetRequested = true;
            resetRequest.run();
        }
    }

    /** True once the guest asked for a reset. */
    public synchronized boolean resetRequested() {
        return resetRequested;
    }
}
