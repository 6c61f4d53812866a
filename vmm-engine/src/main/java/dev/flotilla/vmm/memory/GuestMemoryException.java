package dev.flotilla.vmm.memory;

/** A guest physical address (range) that is not backed by guest RAM. */
public final class GuestMemoryException extends RuntimeException {

    private final long address;
    private final long length;

    public GuestMemoryException(long address, long length) {
        super("guest address range 0x%x+%d is outside guest memory".formatted(address, length));
        this.address = address;
        this.length = length;
    }

    public long address() {
        return address;
    }

    public long length() {
        return length;
    }
}
