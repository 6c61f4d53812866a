package dev.flotilla.vmm.testing;

import dev.flotilla.vmm.bus.BusDevice;

import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;

/** A bus device that records every access and answers reads with a fixed value. */
public class RecordingDevice implements BusDevice {

    public record Access(boolean write, long offset, int size, long value) {}

    private final long readValue;
    private final List<Access> accesses = new CopyOnWriteArrayList<>();

    public RecordingDevice(long readValue) {
        this.readValue = readValue;
    }

    @Override
    public long read(long offset, int size) {
        accesses.add(new Access(false, offset, size, readValue));
        return readValue;
    }

    @Override
    public void write(long offset, int size, long value) {
        accesses.add(new Access(true, offset, size, value));
    }

    public List<Access> accesses() {
        return List.copyOf(accesses);
    }

    public List<Long> writtenValues() {
        return accesses.stream().filter(Access::write).map(Access::value).toList();
    }
}
