package dev.flotilla.images;

/** The registry (or the local store, for local look-ups) does not know the image or tag. */
public final class ImageNotFoundException extends ImageException {
    public ImageNotFoundException(String message) {
        super(message);
    }
}
