package dev.flotilla.containers;

/** A container operation that failed; the message is a sentence saying which one and why. */
public class ContainerException extends RuntimeException {
    public ContainerException(String message) {
        super(message);
    }

    public ContainerException(String message, Throwable cause) {
        super(message, cause);
    }
}
