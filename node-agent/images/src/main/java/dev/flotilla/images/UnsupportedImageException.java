package dev.flotilla.images;

/** The image is well-formed but uses something we do not run (media type, platform, schema 1). */
public final class UnsupportedImageException extends ImageException {
    public UnsupportedImageException(String message) {
        super(message);
    }
}
