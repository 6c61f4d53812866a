package dev.flotilla.vmm.devices.virtio.testing;

import dev.flotilla.vmm.interrupt.IrqLine;

/** An interrupt line that counts rising edges, as a guest's interrupt controller would see them. */
public final class RecordingIrqLine implements IrqLine {

    private boolean level;
    private int edges;

    @Override
    public synchronized void setLevel(boolean high) {
        if (high && !level) {
            edges++;
        }
        level = high;
    }

    public synchronized int edges() {
        return edges;
    }

    public synchronized boolean level() {
        return level;
    }
}
