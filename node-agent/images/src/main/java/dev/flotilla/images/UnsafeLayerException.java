package dev.flotilla.images;

/**
 * A layer tried something an image must not do when unpacked on the host: a path leaving the
 * root, a write through a symlink that points outside it, a device node, an entry over the limits.
 */
public final class UnsafeLayerException extends ImageException {
    public UnsafeLayerException(String message) {
        super(message);
    }
}
