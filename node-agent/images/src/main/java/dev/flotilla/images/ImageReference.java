package dev.flotilla.images;

import java.util.Optional;
import java.util.regex.Pattern;

/**
 * A normalised image reference, as the Docker and containerd tools read one:
 * {@code busybox} is {@code docker.io/library/busybox:latest}, {@code registry:5000/team/app@sha256:...}
 * keeps its registry and pins a digest. A reference with both a tag and a digest pulls the digest
 * and keeps the tag only for display.
 *
 * @param registry   registry host (and port), {@code docker.io} for Docker Hub
 * @param repository repository path inside the registry, e.g. {@code library/busybox}
 * @param tag        the tag, or null when only a digest was given
 * @param digest     the pinned manifest digest, or null
 */
public record ImageReference(String registry, String repository, String tag, Digest digest) {
    public static final String DOCKER_HUB = "docker.io";
    public static final String DEFAULT_TAG = "latest";
    /** distribution/reference limits the name (registry + path) to 255 characters. */
    private static final int MAX_NAME_LENGTH = 255;

    private static final Pattern PATH_COMPONENT = Pattern.compile("[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*");
    private static final Pattern TAG = Pattern.compile("[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}");
    private static final Pattern HOST = Pattern.compile(
            "(?:[A-Za-z0-9]|[A-Za-z0-9][A-Za-z0-9-]*[A-Za-z0-9])(?:\\.(?:[A-Za-z0-9]|[A-Za-z0-9][A-Za-z0-9-]*[A-Za-z0-9]))*"
                    + "|\\[[0-9A-Fa-f:.]+]");
    private static final Pattern PORT = Pattern.compile("[0-9]{1,5}");

    public ImageReference {
        if (tag == null && digest == null) {
            tag = DEFAULT_TAG;
        }
    }

    /**
     * Parses and normalises a reference.
     *
     * @throws IllegalArgumentException naming what is wrong with the text
     */
    public static ImageReference parse(String text) {
        if (text == null || text.isBlank()) {
            throw new IllegalArgumentException("image reference is empty");
        }
        String rest = text;
        Digest digest = null;
        int at = rest.lastIndexOf('@');
        if (at >= 0) {
            try {
                digest = Digest.parse(rest.substring(at + 1));
            } catch (IllegalArgumentException e) {
                throw invalid(text, e.getMessage());
            }
            rest = rest.substring(0, at);
        }
        String tag = null;
        int colon = rest.lastIndexOf(':');
        if (colon > rest.lastIndexOf('/')) {
            tag = rest.substring(colon + 1);
            rest = rest.substring(0, colon);
            if (!TAG.matcher(tag).matches()) {
                throw invalid(text, "tag '" + tag + "' must be 1-128 of [A-Za-z0-9_.-], not starting with '.' or '-'");
            }
        }
        String registry = DOCKER_HUB;
        String path = rest;
        int slash = rest.indexOf('/');
        if (slash > 0) {
            String first = rest.substring(0, slash);
            if (first.contains(".") || first.contains(":") || first.equals("localhost")) {
                registry = first;
                path = rest.substring(slash + 1);
                checkRegistry(text, registry);
            }
        }
        if (registry.equals("index.docker.io") || registry.equals("registry-1.docker.io")) {
            registry = DOCKER_HUB;
        }
        if (path.isEmpty()) {
            throw invalid(text, "the repository name is missing");
        }
        for (String component : path.split("/", -1)) {
            if (!PATH_COMPONENT.matcher(component).matches()) {
                throw invalid(text, "repository path component '" + component
                        + "' must be lower-case letters and digits separated by '.', '_', '__' or '-'");
            }
        }
        if (registry.equals(DOCKER_HUB) && !path.contains("/")) {
            path = "library/" + path;
        }
        if (registry.length() + 1 + path.length() > MAX_NAME_LENGTH) {
            throw invalid(text, "the name is longer than " + MAX_NAME_LENGTH + " characters");
        }
        return new ImageReference(registry, path, tag, digest);
    }

    private static void checkRegistry(String text, String registry) {
        String host = registry;
        int portColon = registry.lastIndexOf(':');
        if (portColon > registry.lastIndexOf(']')) {
            String port = registry.substring(portColon + 1);
            if (!PORT.matcher(port).matches() || Integer.parseInt(port) > 65535) {
                throw invalid(text, "registry port '" + port + "' is not a port number");
            }
            host = registry.substring(0, portColon);
        }
        if (!HOST.matcher(host).matches()) {
            throw invalid(text, "registry host '" + host + "' is not a host name or address");
        }
    }

    private static IllegalArgumentException invalid(String text, String why) {
        return new IllegalArgumentException("image reference '" + text + "' is invalid: " + why);
    }

    /** The tag or digest to ask the registry's manifest endpoint for (the digest when pinned). */
    public String manifestReference() {
        return digest != null ? digest.toString() : tag;
    }

    /** {@code registry/repository} without tag or digest. */
    public String name() {
        return registry + "/" + repository;
    }

    public Optional<Digest> pinnedDigest() {
        return Optional.ofNullable(digest);
    }

    /** The same name pinned to {@code manifestDigest}, keeping the tag for display. */
    public ImageReference withDigest(Digest manifestDigest) {
        return new ImageReference(registry, repository, tag, manifestDigest);
    }

    /** The canonical text: {@code registry/repository[:tag][@digest]}. Parses back to an equal reference. */
    @Override
    public String toString() {
        StringBuilder text = new StringBuilder(name());
        if (tag != null) {
            text.append(':').append(tag);
        }
        if (digest != null) {
            text.append('@').append(digest);
        }
        return text.toString();
    }
}
