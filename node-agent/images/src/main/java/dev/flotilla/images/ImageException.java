package dev.flotilla.images;

/**
 * Base of every failure this library reports. Messages are sentences that name the image, blob or
 * layer entry concerned, so a caller can show them to a user unchanged.
 */
public class ImageException extends RuntimeException {
    public ImageException(String message) {
        super(message);
    }

    public ImageException(String message, Throwable cause) {
        super(message, cause);
    }
}
