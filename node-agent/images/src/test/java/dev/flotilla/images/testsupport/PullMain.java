package dev.flotilla.images.testsupport;

import dev.flotilla.images.Image;
import dev.flotilla.images.ImageReference;
import dev.flotilla.images.ImageStore;
import dev.flotilla.images.StoreConfig;

import java.nio.file.Path;
import java.util.Set;

/** A second process pulling into a shared store: {@code PullMain <root> <plain-http registry> <reference>}. */
public final class PullMain {
    private PullMain() {
    }

    public static void main(String[] args) {
        ImageStore store = ImageStore.open(StoreConfig.defaults(Path.of(args[0])).withPlainHttpRegistries(Set.of(args[1])));
        Image image = store.pull(ImageReference.parse(args[2]), null);
        System.out.println(image.manifestDigest());
    }
}
