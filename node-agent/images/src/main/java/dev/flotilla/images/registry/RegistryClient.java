package dev.flotilla.images.registry;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.flotilla.images.Digest;
import dev.flotilla.images.ImageNotFoundException;
import dev.flotilla.images.ImageReference;
import dev.flotilla.images.IntegrityException;
import dev.flotilla.images.RegistryCredentials;
import dev.flotilla.images.RegistryException;
import dev.flotilla.images.oci.MediaTypes;

import java.io.IOException;
import java.io.InputStream;
import java.net.URI;
import java.net.URLEncoder;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Base64;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;

/**
 * A client of the OCI distribution API (registry v2) for pulling: manifests by tag or digest and
 * blobs by digest, with anonymous, bearer-token (challenge, token endpoint, optional Basic
 * credentials) and HTTP Basic authentication.
 *
 * <p>Transport rules: HTTPS unless the registry host is configured as plain-HTTP; redirects are
 * followed by hand (at most {@value #MAX_REDIRECTS}) so that the registry's Authorization header is
 * never sent to another host (blob storage behind a redirect); credentials never travel over plain
 * HTTP to a host not configured as plain-HTTP. This client returns bytes and streams; verifying
 * them against digests is the store's job, which owns the bytes afterwards.
 *
 * <p>Mirrors: a registry host may have pull-through mirrors, tried in order before the registry
 * itself. A mirror that cannot be reached, refuses, errs or lacks the manifest or blob is passed
 * over for the next; only the registry's own answer is final, and its failure names the mirrors
 * passed over. Credentials are never sent to a mirror (they belong to the registry): mirrors are
 * read anonymously. What a mirror serves is verified by digest like the registry's.
 */
public final class RegistryClient {
    private static final int MAX_REDIRECTS = 5;
    /** Registry error bodies are small JSON documents; anything more is not worth reading. */
    private static final int MAX_ERROR_BODY = 64 * 1024;
    private static final int MAX_TOKEN_BODY = 1024 * 1024;
    /** Docker's token spec: a token without expires_in lives 60 seconds. */
    private static final Duration DEFAULT_TOKEN_LIFETIME = Duration.ofSeconds(60);
    private static final ObjectMapper JSON = new ObjectMapper();

    private final HttpClient http;
    private final Set<String> plainHttpRegistries;
    private final Map<String, List<URI>> mirrors;
    private final Duration requestTimeout;
    private final Map<String, CachedAuthorization> authorizations = new ConcurrentHashMap<>();

    /** A manifest as the registry served it. */
    public record FetchedManifest(byte[] body, String contentType, Digest headerDigest) {
    }

    /** An open blob download; the caller reads {@code body} and closes it. */
    public record BlobDownload(InputStream body, long contentLength) {
    }

    private record CachedAuthorization(String header, Instant expires) {
    }

    /** One place to read from: a mirror's base URL, or the registry itself. */
    private record Endpoint(String baseUrl, boolean mirror) {
    }

    /**
     * @param plainHttpRegistries registry hosts (as in references, {@code host:port}) reached over
     *                            plain HTTP instead of HTTPS
     * @param mirrors             per registry host, base URLs of mirrors tried in order first
     * @param requestTimeout      how long to wait for a response's headers, and for the next
     *                            bytes of a blob download before giving it up as stalled
     */
    public RegistryClient(Set<String> plainHttpRegistries, Map<String, List<URI>> mirrors, Duration requestTimeout) {
        this.plainHttpRegistries = Set.copyOf(plainHttpRegistries);
        this.mirrors = Map.copyOf(mirrors);
        this.requestTimeout = requestTimeout;
        this.http = HttpClient.newBuilder()
                .followRedirects(HttpClient.Redirect.NEVER)
                .connectTimeout(requestTimeout)
                .build();
    }

    /**
     * Fetches a manifest or index by tag or digest, reading at most {@code maxBytes}.
     *
     * @throws ImageNotFoundException when the registry does not know the repository, tag or digest
     */
    public FetchedManifest manifest(ImageReference image, String reference, RegistryCredentials credentials, long maxBytes) {
        String what = "manifest " + image.name() + (reference.contains(":") ? "@" : ":") + reference;
        List<String> passedOver = new ArrayList<>(0);
        for (Endpoint endpoint : endpoints(image.registry())) {
            HttpResponse<InputStream> response = getFrom(endpoint, image, "/manifests/" + reference, MediaTypes.ACCEPT_MANIFESTS,
                    credentials, what, passedOver);
            if (response == null) {
                continue;
            }
            int status = response.statusCode();
            if (status == 404) {
                String detail = errorDetail(response);
                throw new ImageNotFoundException("image " + image.name() + (reference.contains(":") ? "@" : ":") + reference
                        + " was not found in registry " + image.registry() + detail + mirrorNote(passedOver));
            }
            if (status != 200) {
                throw failure(what, response, passedOver);
            }
            byte[] body = readLimited(response.body(), maxBytes, what);
            String contentType = response.headers().firstValue("Content-Type").map(RegistryClient::stripParameters).orElse(null);
            Digest headerDigest = null;
            String header = response.headers().firstValue("Docker-Content-Digest").orElse(null);
            if (header != null) {
                try {
                    headerDigest = Digest.parse(header.strip());
                } catch (IllegalArgumentException e) {
                    throw new IntegrityException(what + " came with a malformed Docker-Content-Digest header"
                            + (endpoint.mirror() ? " from mirror " + endpoint.baseUrl() : "") + ": " + e.getMessage());
                }
            }
            return new FetchedManifest(body, contentType, headerDigest);
        }
        throw new IllegalStateException("no endpoint for registry " + image.registry());
    }

    /**
     * Opens a blob download.
     *
     * @throws RegistryException with status 404 when the registry lacks the blob
     */
    public BlobDownload blob(ImageReference image, Digest digest, RegistryCredentials credentials) {
        String what = "blob " + digest + " of " + image.name();
        List<String> passedOver = new ArrayList<>(0);
        for (Endpoint endpoint : endpoints(image.registry())) {
            HttpResponse<InputStream> response = getFrom(endpoint, image, "/blobs/" + digest, "*/*", credentials, what, passedOver);
            if (response == null) {
                continue;
            }
            if (response.statusCode() == 404) {
                throw new RegistryException(what + " is missing from registry " + image.registry() + errorDetail(response)
                        + mirrorNote(passedOver), 404);
            }
            if (response.statusCode() != 200) {
                throw failure(what, response, passedOver);
            }
            return new BlobDownload(new StallGuardInputStream(response.body(), requestTimeout, what),
                    response.headers().firstValueAsLong("Content-Length").orElse(-1));
        }
        throw new IllegalStateException("no endpoint for registry " + image.registry());
    }

    /** The registry's mirrors in order, then the registry itself (the last word). */
    private List<Endpoint> endpoints(String registry) {
        List<URI> configured = mirrors.getOrDefault(registry, List.of());
        List<Endpoint> endpoints = new ArrayList<>(configured.size() + 1);
        for (URI mirror : configured) {
            endpoints.add(new Endpoint(strip(mirror.toString()), true));
        }
        endpoints.add(new Endpoint(baseUrl(registry), false));
        return endpoints;
    }

    /**
     * The response of one endpoint. A mirror's failure or refusal (anything but 200) is noted in {@code passedOver}
     * and answered with null, so the caller moves on; the registry's own response or failure is returned or thrown,
     * naming the mirrors passed over.
     */
    private HttpResponse<InputStream> getFrom(Endpoint endpoint, ImageReference image, String path, String accept,
                                              RegistryCredentials credentials, String what, List<String> passedOver) {
        if (!endpoint.mirror()) {
            try {
                return get(endpoint, image, path, accept, credentials, what);
            } catch (RegistryException e) {
                if (passedOver.isEmpty()) {
                    throw e;
                }
                throw new RegistryException(e.getMessage() + mirrorNote(passedOver), e.status());
            }
        }
        try {
            HttpResponse<InputStream> response = get(endpoint, image, path, accept, null, what);
            if (response.statusCode() == 200) {
                return response;
            }
            passedOver.add(endpoint.baseUrl() + " answered HTTP " + response.statusCode() + errorDetail(response));
        } catch (RegistryException e) {
            passedOver.add(endpoint.baseUrl() + ": " + e.getMessage());
        }
        return null;
    }

    private static String mirrorNote(List<String> passedOver) {
        return passedOver.isEmpty() ? "" : " (mirrors passed over: " + String.join("; ", passedOver) + ")";
    }

    private static String strip(String url) {
        return url.endsWith("/") ? url.substring(0, url.length() - 1) : url;
    }

    private HttpResponse<InputStream> get(Endpoint endpoint, ImageReference image, String path, String accept,
                                          RegistryCredentials credentials, String what) {
        URI uri = URI.create(endpoint.baseUrl() + "/v2/" + image.repository() + path);
        String cacheKey = endpoint.baseUrl() + "/" + image.repository() + "|" + (credentials == null ? "" : credentials.username());
        CachedAuthorization cached = authorizations.get(cacheKey);
        String authorization = cached != null && cached.expires().isAfter(Instant.now()) ? cached.header() : null;
        HttpResponse<InputStream> response = send(uri, accept, authorization, what);
        if (response.statusCode() != 401) {
            return response;
        }
        String challengeHeader = response.headers().firstValue("WWW-Authenticate").orElse(null);
        discard(response);
        AuthChallenge challenge;
        try {
            challenge = AuthChallenge.parse(challengeHeader);
        } catch (IllegalArgumentException e) {
            throw new RegistryException(what + ": " + e.getMessage(), 401);
        }
        CachedAuthorization fresh = authorize(challenge, endpoint, image, credentials, what);
        authorizations.put(cacheKey, fresh);
        response = send(uri, accept, fresh.header(), what);
        if (response.statusCode() == 401 || response.statusCode() == 403) {
            discard(response);
            throw new RegistryException((endpoint.mirror() ? "mirror " + endpoint.baseUrl() : "registry " + image.registry())
                    + " refused " + (credentials == null ? "anonymous access" : "the credentials of '" + credentials.username() + "'")
                    + " to " + image.name() + " (HTTP " + response.statusCode() + ") while fetching " + what, response.statusCode());
        }
        return response;
    }

    private CachedAuthorization authorize(AuthChallenge challenge, Endpoint endpoint, ImageReference image,
                                          RegistryCredentials credentials, String what) {
        switch (challenge.scheme()) {
            case "basic" -> {
                if (credentials == null) {
                    throw new RegistryException("registry " + image.registry() + " requires a user name and password (HTTP Basic) for "
                            + image.name() + "; none were given", 401);
                }
                requireSafeForCredentials(URI.create(endpoint.baseUrl()), image.registry());
                return new CachedAuthorization(basic(credentials), Instant.MAX);
            }
            case "bearer" -> {
                return fetchToken(challenge, image, credentials, what);
            }
            default -> throw new RegistryException("registry " + image.registry() + " asks for authentication scheme '"
                    + challenge.scheme() + "', which is not supported (Bearer and Basic are)", 401);
        }
    }

    private CachedAuthorization fetchToken(AuthChallenge challenge, ImageReference image, RegistryCredentials credentials, String what) {
        String realm = challenge.parameter("realm");
        if (realm == null || realm.isBlank()) {
            throw new RegistryException("registry " + image.registry() + " sent a Bearer challenge without a realm", 401);
        }
        URI realmUri;
        try {
            realmUri = URI.create(realm);
        } catch (IllegalArgumentException e) {
            throw new RegistryException("registry " + image.registry() + " sent a token realm that is not a URL: " + realm, 401);
        }
        if (!"https".equals(realmUri.getScheme()) && !"http".equals(realmUri.getScheme())) {
            throw new RegistryException("registry " + image.registry() + " sent a token realm that is not http(s): " + realm, 401);
        }
        String scope = challenge.parameter("scope");
        if (scope == null || scope.isBlank()) {
            scope = "repository:" + image.repository() + ":pull";
        }
        StringBuilder query = new StringBuilder();
        if (challenge.parameter("service") != null) {
            query.append("service=").append(URLEncoder.encode(challenge.parameter("service"), StandardCharsets.UTF_8)).append('&');
        }
        query.append("scope=").append(URLEncoder.encode(scope, StandardCharsets.UTF_8));
        URI tokenUri = URI.create(realm + (realm.contains("?") ? "&" : "?") + query);
        HttpRequest.Builder request = HttpRequest.newBuilder(tokenUri).timeout(requestTimeout).GET();
        if (credentials != null) {
            requireSafeForCredentials(tokenUri, image.registry());
            request.header("Authorization", basic(credentials));
        }
        HttpResponse<InputStream> response;
        try {
            response = http.send(request.build(), HttpResponse.BodyHandlers.ofInputStream());
        } catch (IOException e) {
            throw new RegistryException("cannot get a token from " + realmUri.getHost() + " for " + what + ": " + e.getMessage(), e);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new RegistryException("interrupted while getting a token for " + what, e);
        }
        if (response.statusCode() != 200) {
            discard(response);
            throw new RegistryException("token endpoint " + tokenUri.getHost() + ":" + tokenUri.getPort() + " refused "
                    + (credentials == null ? "an anonymous token" : "a token for '" + credentials.username() + "'")
                    + " for " + image.name() + " (HTTP " + response.statusCode() + ")", response.statusCode());
        }
        byte[] body = readLimited(response.body(), MAX_TOKEN_BODY, "token response from " + tokenUri.getHost());
        try {
            JsonNode json = JSON.readTree(body);
            String token = json.path("token").asText("");
            if (token.isEmpty()) {
                token = json.path("access_token").asText("");
            }
            if (token.isEmpty()) {
                throw new RegistryException("token endpoint " + tokenUri.getHost() + " answered without a token", 200);
            }
            long lifetime = json.path("expires_in").asLong(DEFAULT_TOKEN_LIFETIME.toSeconds());
            // Renew a little early so a token does not expire between our check and the registry's.
            Instant expires = Instant.now().plusSeconds(Math.max(0, lifetime - 5));
            return new CachedAuthorization("Bearer " + token, expires);
        } catch (IOException e) {
            throw new RegistryException("token endpoint " + tokenUri.getHost() + " answered with invalid JSON: " + e.getMessage(), e);
        }
    }

    private void requireSafeForCredentials(URI target, String registry) {
        if ("https".equals(target.getScheme())) {
            return;
        }
        String authority = target.getPort() < 0 ? target.getHost() : target.getHost() + ":" + target.getPort();
        if (!plainHttpRegistries.contains(authority)) {
            throw new RegistryException("refusing to send credentials for " + registry + " over plain HTTP to " + authority
                    + " (not configured as a plain-HTTP registry)", 401);
        }
    }

    private HttpResponse<InputStream> send(URI uri, String accept, String authorization, String what) {
        URI current = uri;
        String auth = authorization;
        for (int hop = 0; hop <= MAX_REDIRECTS; hop++) {
            HttpRequest.Builder request = HttpRequest.newBuilder(current).timeout(requestTimeout).header("Accept", accept).GET();
            if (auth != null) {
                request.header("Authorization", auth);
            }
            HttpResponse<InputStream> response;
            try {
                response = http.send(request.build(), HttpResponse.BodyHandlers.ofInputStream());
            } catch (IOException e) {
                throw new RegistryException("cannot reach " + current.getHost() + ":" + port(current) + " for " + what + ": "
                        + (e.getMessage() != null ? e.getMessage() : e.getClass().getSimpleName()), e);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                throw new RegistryException("interrupted while fetching " + what, e);
            }
            int status = response.statusCode();
            if (status != 301 && status != 302 && status != 303 && status != 307 && status != 308) {
                return response;
            }
            String location = response.headers().firstValue("Location").orElse(null);
            discard(response);
            if (location == null) {
                throw new RegistryException(what + ": redirect " + status + " without a Location", status);
            }
            URI next = current.resolve(location);
            if (!current.getHost().equalsIgnoreCase(next.getHost()) || port(current) != port(next)) {
                auth = null;
            }
            if ("http".equals(next.getScheme()) && "https".equals(current.getScheme())) {
                throw new RegistryException(what + ": refusing a redirect from HTTPS to plain HTTP (" + next.getHost() + ")", status);
            }
            current = next;
        }
        throw new RegistryException(what + ": more than " + MAX_REDIRECTS + " redirects", 310);
    }

    private String baseUrl(String registry) {
        String host = registry.equals(ImageReference.DOCKER_HUB) ? "registry-1.docker.io" : registry;
        return (plainHttpRegistries.contains(registry) ? "http://" : "https://") + host;
    }

    private static int port(URI uri) {
        return uri.getPort() >= 0 ? uri.getPort() : "https".equals(uri.getScheme()) ? 443 : 80;
    }

    private static String basic(RegistryCredentials credentials) {
        return "Basic " + Base64.getEncoder().encodeToString(
                (credentials.username() + ":" + credentials.password()).getBytes(StandardCharsets.UTF_8));
    }

    private static String stripParameters(String contentType) {
        int semicolon = contentType.indexOf(';');
        return (semicolon < 0 ? contentType : contentType.substring(0, semicolon)).strip();
    }

    private static RegistryException failure(String what, HttpResponse<InputStream> response, List<String> passedOver) {
        return new RegistryException("registry answered HTTP " + response.statusCode() + " for " + what + errorDetail(response)
                + mirrorNote(passedOver), response.statusCode());
    }

    /** The registry's error codes and messages, as {@code " (CODE: message)"}, or empty. */
    private static String errorDetail(HttpResponse<InputStream> response) {
        try (InputStream body = response.body()) {
            byte[] bytes = body.readNBytes(MAX_ERROR_BODY);
            JsonNode errors = JSON.readTree(bytes).path("errors");
            StringBuilder detail = new StringBuilder();
            for (JsonNode error : errors) {
                detail.append(detail.isEmpty() ? " (" : "; ").append(error.path("code").asText("?"));
                String message = error.path("message").asText("");
                if (!message.isEmpty()) {
                    detail.append(": ").append(message);
                }
            }
            return detail.isEmpty() ? "" : detail.append(')').toString();
        } catch (IOException | RuntimeException e) {
            return "";
        }
    }

    private static byte[] readLimited(InputStream body, long maxBytes, String what) {
        try (body) {
            byte[] bytes = body.readNBytes((int) Math.min(Integer.MAX_VALUE - 8, maxBytes + 1));
            if (bytes.length > maxBytes) {
                throw new IntegrityException(what + " is larger than the limit of " + maxBytes + " bytes");
            }
            return bytes;
        } catch (IOException e) {
            throw new RegistryException("reading " + what + " failed: " + e.getMessage(), e);
        }
    }

    private static void discard(HttpResponse<InputStream> response) {
        try (InputStream body = response.body()) {
            body.skip(MAX_ERROR_BODY);
        } catch (IOException ignored) {
            // The connection is dropped instead of reused; nothing else to do.
        }
    }
}
