package dev.flotilla.images;

import dev.flotilla.images.unpack.UnpackPolicy;

import java.nio.file.Path;
import java.time.Duration;
import java.util.Set;

/**
 * How an {@link ImageStore} is set up. Start from {@link #defaults(Path)} and change what you need
 * with the {@code with...} methods.
 *
 * @param root                   store directory (blobs, refs, rootfs images, temporary files)
 * @param plainHttpRegistries    registries (as written in references, {@code host:port}) reached
 *                               over plain HTTP: loopback test registries, never the internet
 * @param requestTimeout         connect and response-header timeout per registry request
 * @param maxManifestBytes       largest manifest or index accepted (the distribution spec asks
 *                               registries to accept 4 MiB; we read no more)
 * @param maxConfigBytes         largest image configuration accepted
 * @param maxLayerBytes          largest compressed layer accepted
 * @param maxParallelDownloads   layers of one pull fetched at the same time
 * @param unpackPolicy           what layers may contain and how much
 * @param mkfsErofs              the mkfs.erofs command
 */
public record StoreConfig(Path root, Set<String> plainHttpRegistries, Duration requestTimeout, long maxManifestBytes,
                          long maxConfigBytes, long maxLayerBytes, int maxParallelDownloads, UnpackPolicy unpackPolicy,
                          String mkfsErofs) {
    public StoreConfig {
        plainHttpRegistries = Set.copyOf(plainHttpRegistries);
        if (maxParallelDownloads < 1) {
            throw new IllegalArgumentException("maxParallelDownloads must be at least 1, not " + maxParallelDownloads);
        }
    }

    public static StoreConfig defaults(Path root) {
        return new StoreConfig(root, Set.of(), Duration.ofSeconds(30), 4L << 20, 16L << 20, 8L << 30, 3,
                UnpackPolicy.defaults(), "mkfs.erofs");
    }

    /** {@code $XDG_DATA_HOME/flotilla/images}, else {@code ~/.local/share/flotilla/images}. */
    public static Path defaultRoot() {
        String xdg = System.getenv("XDG_DATA_HOME");
        Path base = xdg != null && !xdg.isBlank() ? Path.of(xdg) : Path.of(System.getProperty("user.home"), ".local", "share");
        return base.resolve("flotilla").resolve("images");
    }

    public StoreConfig withPlainHttpRegistries(Set<String> registries) {
        return new StoreConfig(root, registries, requestTimeout, maxManifestBytes, maxConfigBytes, maxLayerBytes,
                maxParallelDownloads, unpackPolicy, mkfsErofs);
    }

    public StoreConfig withUnpackPolicy(UnpackPolicy policy) {
        return new StoreConfig(root, plainHttpRegistries, requestTimeout, maxManifestBytes, maxConfigBytes, maxLayerBytes,
                maxParallelDownloads, policy, mkfsErofs);
    }

    public StoreConfig withMaxLayerBytes(long bytes) {
        return new StoreConfig(root, plainHttpRegistries, requestTimeout, maxManifestBytes, maxConfigBytes, bytes,
                maxParallelDownloads, unpackPolicy, mkfsErofs);
    }

    public StoreConfig withRequestTimeout(Duration timeout) {
        return new StoreConfig(root, plainHttpRegistries, timeout, maxManifestBytes, maxConfigBytes, maxLayerBytes,
                maxParallelDownloads, unpackPolicy, mkfsErofs);
    }
}
