package dev.flotilla.cri.registry;

import java.net.URI;
import java.util.List;
import java.util.Locale;
import java.util.regex.Pattern;

/**
 * How to reach one registry host ("docker.io", "registry.local:5000"): mirrors to try first, in order, and
 * whether the host itself speaks plain HTTP (insecure; air-gapped registries without TLS).
 *
 * @param host     registry host as it appears in image references, lower case, with port if any
 * @param mirrors  base URLs (http or https) of pull-through mirrors, tried before the host itself
 * @param insecure true if the host itself is reached over plain HTTP instead of HTTPS
 */
public record RegistryHost(String host, List<URI> mirrors, boolean insecure) {

    // A DNS name or IPv4 address, or a bracketed IPv6 address, with an optional port (the reference grammar).
    private static final Pattern HOST = Pattern.compile(
            "(?:[a-z0-9](?:[a-z0-9-]*[a-z0-9])?(?:\\.[a-z0-9](?:[a-z0-9-]*[a-z0-9])?)*|\\[[0-9a-f:.]+])(?::[0-9]{1,5})?");

    public RegistryHost {
        if (host == null || !HOST.matcher(host).matches()) {
            throw new IllegalArgumentException("registry host '" + host
                    + "' is not a host name or address with optional port, such as docker.io or registry.local:5000");
        }
        int colon = host.lastIndexOf(':');
        if (colon > host.lastIndexOf(']') && Integer.parseInt(host.substring(colon + 1)) > 65535) {
            throw new IllegalArgumentException("registry host '" + host + "' has a port above 65535");
        }
        mirrors = List.copyOf(mirrors);
        for (URI mirror : mirrors) {
            checkMirror(host, mirror);
        }
    }

    public static RegistryHost of(String host, List<URI> mirrors, boolean insecure) {
        return new RegistryHost(host == null ? null : host.toLowerCase(Locale.ROOT), mirrors, insecure);
    }

    /** The registry host's own API base URL: HTTPS unless insecure; docker.io is served by registry-1.docker.io. */
    public URI origin() {
        String authority = host.equals(RegistryHosts.DOCKER_HUB) ? "registry-1.docker.io" : host;
        return URI.create((insecure ? "http://" : "https://") + authority);
    }

    private static void checkMirror(String host, URI mirror) {
        String scheme = mirror.getScheme();
        if (!"http".equals(scheme) && !"https".equals(scheme)) {
            throw new IllegalArgumentException("mirror '" + mirror + "' for registry " + host
                    + " must be an http:// or https:// URL");
        }
        if (mirror.getHost() == null || mirror.getRawQuery() != null || mirror.getRawFragment() != null
                || mirror.getRawUserInfo() != null) {
            throw new IllegalArgumentException("mirror '" + mirror + "' for registry " + host
                    + " must be a plain base URL (host, optional port and path; no user, query or fragment)");
        }
    }
}
