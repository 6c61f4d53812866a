package dev.flotilla.images;

import dev.flotilla.images.unpack.UnpackPolicy;

import java.net.URI;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Set;
import java.util.TreeMap;

/**
 * How an {@link ImageStore} is set up. Start from {@link #defaults(Path)} and change what you need
 * with the {@code with...} methods.
 *
 * @param root                   store directory (blobs, refs, rootfs images, temporary files)
 * @param plainHttpRegistries    registries (as written in references, {@code host:port}) reached
 *                               over plain HTTP: loopback test registries, never the internet
 * @param registryMirrors        per registry host (as in references; {@code docker.io} for Docker Hub), base URLs
 *                               of pull-through mirrors tried in order before the registry itself
 * @param requestTimeout         connect and response-header timeout per registry request
 * @param maxManifestBytes       largest manifest or index accepted (the distribution spec asks
 *                               registries to accept 4 MiB; we read no more)
 * @param maxConfigBytes         largest image configuration accepted
 * @param maxLayerBytes          largest compressed layer accepted
 * @param maxParallelDownloads   layers of one pull fetched at the same time
 * @param unpackPolicy           what layers may contain and how much
 * @param mkfsErofs              the mkfs.erofs command
 */
public record StoreConfig(Path root, Set<String> plainHttpRegistries, Map<String, List<URI>> registryMirrors,
                          Duration requestTimeout, long maxManifestBytes, long maxConfigBytes, long maxLayerBytes,
                          int maxParallelDownloads, UnpackPolicy unpackPolicy, String mkfsErofs) {
    public StoreConfig {
        plainHttpRegistries = Set.copyOf(plainHttpRegistries);
        Map<String, List<URI>> mirrors = new TreeMap<>();
        registryMirrors.forEach((host, urls) -> {
            for (URI url : urls) {
                checkMirror(host, url);
            }
            mirrors.put(host.toLowerCase(Locale.ROOT), List.copyOf(urls));
        });
        registryMirrors = Map.copyOf(mirrors);
        if (maxParallelDownloads < 1) {
            throw new IllegalArgumentException("maxParallelDownloads must be at least 1, not " + maxParallelDownloads);
        }
    }

    public static StoreConfig defaults(Path root) {
        return new StoreConfig(root, Set.of(), Map.of(), Duration.ofSeconds(30), 4L << 20, 16L << 20, 8L << 30, 3,
                UnpackPolicy.defaults(), "mkfs.erofs");
    }

    /** {@code $XDG_DATA_HOME/flotilla/images}, else {@code ~/.local/share/flotilla/images}. */
    public static Path defaultRoot() {
        String xdg = System.getenv("XDG_DATA_HOME");
        Path base = xdg != null && !xdg.isBlank() ? Path.of(xdg) : Path.of(System.getProperty("user.home"), ".local", "share");
        return base.resolve("flotilla").resolve("images");
    }

    public StoreConfig withPlainHttpRegistries(Set<String> registries) {
        return new StoreConfig(root, registries, registryMirrors, requestTimeout, maxManifestBytes, maxConfigBytes, maxLayerBytes,
                maxParallelDownloads, unpackPolicy, mkfsErofs);
    }

    /** Mirrors per registry host; a mirror's URL says whether it speaks plain HTTP. */
    public StoreConfig withRegistryMirrors(Map<String, List<URI>> mirrors) {
        return new StoreConfig(root, plainHttpRegistries, mirrors, requestTimeout, maxManifestBytes, maxConfigBytes,
                maxLayerBytes, maxParallelDownloads, unpackPolicy, mkfsErofs);
    }

    private static void checkMirror(String host, URI mirror) {
        if (!"http".equals(mirror.getScheme()) && !"https".equals(mirror.getScheme()) || mirror.getHost() == null
                || mirror.getRawQuery() != null || mirror.getRawFragment() != null || mirror.getRawUserInfo() != null) {
            throw new IllegalArgumentException("mirror '" + mirror + "' of registry " + host
                    + " must be a plain http:// or https:// base URL (host, optional port and path)");
        }
    }

    public StoreConfig withUnpackPolicy(UnpackPolicy policy) {
        return new StoreConfig(root, plainHttpRegistries, registryMirrors, requestTimeout, maxManifestBytes, maxConfigBytes, maxLayerBytes,
                maxParallelDownloads, policy, mkfsErofs);
    }

    public StoreConfig withMaxLayerBytes(long bytes) {
        return new StoreConfig(root, plainHttpRegistries, registryMirrors, requestTimeout, maxManifestBytes, maxConfigBytes, bytes,
                maxParallelDownloads, unpackPolicy, mkfsErofs);
    }

    public StoreConfig withRequestTimeout(Duration timeout) {
        return new StoreConfig(root, plainHttpRegistries, registryMirrors, timeout, maxManifestBytes, maxConfigBytes, maxLayerBytes,
                maxParallelDownloads, unpackPolicy, mkfsErofs);
    }
}
