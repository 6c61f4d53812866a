package dev.flotilla.images;

/** The registry refused or failed a request (HTTP error, authentication, missing blob, I/O). */
public class RegistryException extends ImageException {
    private final int status;

    public RegistryException(String message, int status) {
        super(message);
        this.status = status;
    }

    public RegistryException(String message, Throwable cause) {
        super(message, cause);
        this.status = -1;
    }

    /** The HTTP status that caused this, or -1 when the request did not get a response. */
    public int status() {
        return status;
    }
}
