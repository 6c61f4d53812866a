package dev.flotilla.vmm.devices.legacy;

import dev.flotilla.vmm.arch.x86_64.Layout;
import dev.flotilla.vmm.bus.BusDevice;

import java.util.OptionalLong;

/**
 * Firecracker's boot timer: the guest's init writes {@link Layout#BOOT_TIMER_MAGIC} as a byte at
 * offset 0 of this MMIO page when user space is up, and the VMM records the time since the VM
 * start request. The first such write counts; later ones are ignored. Reads return 0.
 */
public final class BootTimer implements BusDevice {

    private final long startNanos;
    private volatile long bootNanos = -1;

    /** {@code startNanos} is the {@link System#nanoTime()} of the start request. */
    public BootTimer(long startNanos) {
        this.startNanos = startNanos;
    }

    @Override
    public long read(long offset, int size) {
        return 0;
    }

    @Override
    public void write(long offset, int size, long value) {
        if (offset == 0 && (value & 0xFF) == Layout.BOOT_TIMER_MAGIC && bootNanos < 0) {
            synchronized (this) {
                if (bootNanos < 0) {
                    bootNanos = System.nanoTime() - startNanos;
                }
            }
        }
    }

    /** Nanoseconds from the start request to the guest's signal, once it came. */
    public OptionalLong bootNanos() {
        long n = bootNanos;
        return n < 0 ? OptionalLong.empty() : OptionalLong.of(n);
    }
}
