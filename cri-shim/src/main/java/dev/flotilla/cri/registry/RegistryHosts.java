package dev.flotilla.cri.registry;

import java.net.URI;
import java.net.URISyntaxException;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Optional;
import java.util.TreeMap;
import java.util.stream.Collectors;

/**
 * Per-registry-host pull settings of a node, handed to the image store: mirrors and plain-HTTP registries, as
 * air-gapped clusters need. Hosts without an entry are pulled from directly over HTTPS.
 *
 * <p>As properties (what the node-agent's configuration maps to {@link #fromProperties}):
 * <pre>
 * docker.io.mirrors = https://mirror.internal:5000, http://10.0.0.5:5000
 * registry.local:5000.insecure = true
 * </pre>
 */
public final class RegistryHosts {

    /** The host image references without a registry name resolve to. */
    public static final String DOCKER_HUB = "docker.io";

    private final Map<String, RegistryHost> hosts;

    private RegistryHosts(Map<String, RegistryHost> hosts) {
        this.hosts = hosts;
    }

    public static RegistryHosts none() {
        return new RegistryHosts(Map.of());
    }

    public static RegistryHosts of(List<RegistryHost> hosts) {
        Map<String, RegistryHost> byHost = new TreeMap<>();
        for (RegistryHost host : hosts) {
            if (byHost.putIfAbsent(host.host(), host) != null) {
                throw new IllegalArgumentException("registry host " + host.host() + " is configured twice");
            }
        }
        return new RegistryHosts(Map.copyOf(byHost));
    }

    /**
     * Reads {@code <host>.mirrors} (comma-separated URLs) and {@code <host>.insecure} (true/false) entries.
     * Unknown keys and malformed values are rejected with the offending key in the message.
     */
    public static RegistryHosts fromProperties(Map<String, String> properties) {
        Map<String, List<URI>> mirrors = new TreeMap<>();
        Map<String, Boolean> insecure = new TreeMap<>();
        for (var entry : properties.entrySet()) {
            String key = entry.getKey().strip();
            int dot = key.lastIndexOf('.');
            String host = dot < 0 ? "" : key.substring(0, dot).toLowerCase(Locale.ROOT);
            String setting = dot < 0 ? key : key.substring(dot + 1);
            String value = entry.getValue() == null ? "" : entry.getValue().strip();
            switch (setting) {
                case "mirrors" -> mirrors.put(host, parseMirrors(key, value));
                case "insecure" -> insecure.put(host, parseBoolean(key, value));
                default -> throw new IllegalArgumentException("registry setting '" + key
                        + "' is unknown; use <host>.mirrors or <host>.insecure");
            }
        }
        List<RegistryHost> hosts = new ArrayList<>();
        var names = new java.util.TreeSet<>(mirrors.keySet());
        names.addAll(insecure.keySet());
        for (String host : names) {
            hosts.add(RegistryHost.of(host, mirrors.getOrDefault(host, List.of()), insecure.getOrDefault(host, false)));
        }
        return of(hosts);
    }

    public Optional<RegistryHost> host(String host) {
        return Optional.ofNullable(hosts.get(host.toLowerCase(Locale.ROOT)));
    }

    /** Where to pull images of {@code host} from, in order: its mirrors, then the registry itself. */
    public List<RegistryEndpoint> endpointsFor(String host) {
        RegistryHost settings = host(host).orElseGet(() -> RegistryHost.of(host, List.of(), false));
        List<RegistryEndpoint> endpoints = new ArrayList<>();
        for (URI mirror : settings.mirrors()) {
            endpoints.add(new RegistryEndpoint(mirror, true));
        }
        endpoints.add(new RegistryEndpoint(settings.origin(), false));
        return List.copyOf(endpoints);
    }

    public List<RegistryHost> all() {
        return List.copyOf(hosts.values());
    }

    @Override
    public String toString() {
        return hosts.values().stream().map(RegistryHost::toString)
                .collect(Collectors.joining(", ", "RegistryHosts[", "]"));
    }

    private static List<URI> parseMirrors(String key, String value) {
        List<URI> uris = new ArrayList<>();
        for (String part : Arrays.stream(value.split(",")).map(String::strip).filter(s -> !s.isEmpty()).toList()) {
            try {
                uris.add(new URI(part));
            } catch (URISyntaxException e) {
                throw new IllegalArgumentException("registry setting '" + key + "': '" + part
                        + "' is not a URL (" + e.getReason() + ")");
            }
        }
        return uris;
    }

    private static boolean parseBoolean(String key, String value) {
        return switch (value.toLowerCase(Locale.ROOT)) {
            case "true" -> true;
            case "false" -> false;
            default -> throw new IllegalArgumentException("registry setting '" + key + "' must be true or false, not '"
                    + value + "'");
        };
    }
}
