package dev.flotilla.images;

/** Content did not match its digest or declared size; nothing of it was kept. */
public final class IntegrityException extends ImageException {
    public IntegrityException(String message) {
        super(message);
    }
}
