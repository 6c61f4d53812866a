package dev.flotilla.containers;

import dev.flotilla.images.Image;
import dev.flotilla.images.ImageException;
import dev.flotilla.images.ImageReference;
import dev.flotilla.images.ImageStore;

import java.nio.file.Path;
import java.util.Optional;

/**
 * Images ready to boot: the store's entry and its erofs root filesystem. An image already in the store is used
 * as it is (no registry round trip), so a pulled image starts without network.
 */
public final class ContainerImages {
    private final ImageStore store;

    public ContainerImages(ImageStore store) {
        this.store = store;
    }

    public ImageStore store() {
        return store;
    }

    /** An image and its root filesystem file; {@code pulled} tells whether the registry was asked. */
    public record RootImage(Image image, Path rootfs, boolean pulled) {
    }

    /**
     * Finds {@code reference} in the store or pulls it, then builds (or reuses) its erofs root filesystem.
     *
     * @throws ContainerException with the store's reason when the reference is invalid, the registry does not
     *                            know it, or the pull or unpack fails
     */
    public RootImage prepare(String reference) {
        ImageReference ref;
        try {
            ref = ImageReference.parse(reference);
        } catch (RuntimeException e) {
            // The parser's message already names the reference and the rule it breaks.
            throw new ContainerException(e.getMessage(), e);
        }
        try {
            Optional<Image> stored = store.find(ref);
            Image image = stored.orElseGet(() -> store.pull(reference));
            return new RootImage(image, store.rootfs(image), stored.isEmpty());
        } catch (ImageException e) {
            throw new ContainerException("cannot prepare image " + reference + ": " + e.getMessage(), e);
        }
    }
}
