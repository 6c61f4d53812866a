package dev.flotilla.vmm.testing;

import dev.flotilla.vmm.interrupt.IrqLine;

/** Counts rising edges, the way an edge-triggered IOAPIC pin would see them. */
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
