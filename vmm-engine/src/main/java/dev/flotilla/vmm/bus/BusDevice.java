package dev.flotilla.vmm.bus;

/**
 * A device reached through port I/O or MMIO. Called on the vCPU thread that took the exit, so
 * implementations must be quick, allocation-free and thread-safe where several vCPUs can reach
 * them. {@code offset} is relative to the base the device was registered at; {@code size} is
 * 1, 2, 4 or 8 bytes; values are little-endian in the low bytes of the long.
 */
public interface BusDevice {

    /** Returns the value read; unused high bytes are ignored. */
    long read(long offset, int size);

    void write(long offset, int size, long value);
}
