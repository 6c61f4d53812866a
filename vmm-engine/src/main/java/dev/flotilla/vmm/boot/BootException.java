package dev.flotilla.vmm.boot;

/** A kernel, initrd or command line that cannot be booted; the message says which and why. */
public class BootException extends Exception {
    public BootException(String message) {
        super(message);
    }

    public BootException(String message, Throwable cause) {
        super(message, cause);
    }
}
