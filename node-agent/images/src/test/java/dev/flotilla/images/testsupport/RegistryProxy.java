package dev.flotilla.images.testsupport;

import com.sun.net.httpserver.HttpExchange;
import com.sun.net.httpserver.HttpServer;

import java.io.IOException;
import java.io.OutputStream;
import java.net.InetSocketAddress;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.util.Base64;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.Executors;
import java.util.concurrent.atomic.AtomicInteger;

/**
 * A loopback HTTP proxy in front of {@link LocalRegistry} that lets a test see and bend the
 * traffic: it counts requests per path, can demand bearer tokens from its own token endpoint
 * (Docker's token auth flow), can delay blob responses (to make concurrent pulls overlap) and can
 * cut a blob download off halfway (an interrupted pull) or answer 404 for a blob (a mirror lacking it).
 */
public final class RegistryProxy implements AutoCloseable {
    private static final String TOKEN = "test-token-" + System.nanoTime();

    private final HttpServer server;
    private final String upstream;
    private final HttpClient http = HttpClient.newBuilder().followRedirects(HttpClient.Redirect.NEVER).build();
    private final Map<String, AtomicInteger> requests = new ConcurrentHashMap<>();
    private final Map<String, AtomicInteger> served = new ConcurrentHashMap<>();
    private volatile String requiredUser;
    private volatile String requiredPassword;
    private volatile boolean tokenAuth;
    private volatile long blobDelayMillis;
    private volatile String cutBlobHex;
    private volatile String stallBlobHex;
    private volatile String hiddenBlobHex;

    public RegistryProxy(String upstreamAddress) throws IOException {
        this.upstream = "http://" + upstreamAddress;
        this.server = HttpServer.create(new InetSocketAddress("127.0.0.1", 0), 64);
        server.setExecutor(Executors.newVirtualThreadPerTaskExecutor());
        server.createContext("/token", this::token);
        server.createContext("/v2/", this::forward);
        server.start();
    }

    public String address() {
        return "127.0.0.1:" + server.getAddress().getPort();
    }

    /** Demand bearer tokens; the token endpoint hands them out only for these credentials. */
    public void requireToken(String user, String password) {
        this.requiredUser = user;
        this.requiredPassword = password;
        this.tokenAuth = true;
    }

    public void delayBlobs(long millis) {
        this.blobDelayMillis = millis;
    }

    /** Serve only the first half of this blob, then drop the connection. */
    public void cutBlob(String hex) {
        this.cutBlobHex = hex;
    }

    /** Serve the first half of this blob, then send nothing more (for up to 30 s). */
    public void stallBlob(String hex) {
        this.stallBlobHex = hex;
    }

    /** Answer 404 BLOB_UNKNOWN for this blob, as a mirror that does not have it. */
    public void hideBlob(String hex) {
        this.hiddenBlobHex = hex;
    }

    /** How many GETs reached {@code /v2/<repository>/blobs/<digest>} (any repository). */
    public int blobFetches(String digest) {
        return requests.entrySet().stream().filter(e -> e.getKey().endsWith("/blobs/" + digest))
                .mapToInt(e -> e.getValue().get()).sum();
    }

    /** How many times this blob was sent whole or in part with status 200 (not refused, not hidden). */
    public int blobsServed(String digest) {
        return served.entrySet().stream().filter(e -> e.getKey().endsWith("/blobs/" + digest))
                .mapToInt(e -> e.getValue().get()).sum();
    }

    /** Requests of any kind seen so far. */
    public int totalRequests() {
        return requests.values().stream().mapToInt(AtomicInteger::get).sum();
    }

    public int tokenRequests() {
        return requests.getOrDefault("/token", new AtomicInteger()).get();
    }

    private void token(HttpExchange exchange) throws IOException {
        try (exchange) {
            requests.computeIfAbsent("/token", k -> new AtomicInteger()).incrementAndGet();
            String expected = "Basic " + Base64.getEncoder().encodeToString(
                    (requiredUser + ":" + requiredPassword).getBytes(StandardCharsets.UTF_8));
            if (!expected.equals(exchange.getRequestHeaders().getFirst("Authorization"))) {
                exchange.sendResponseHeaders(401, -1);
                return;
            }
            byte[] body = ("{\"token\":\"" + TOKEN + "\",\"expires_in\":300}").getBytes(StandardCharsets.UTF_8);
            exchange.getResponseHeaders().set("Content-Type", "application/json");
            exchange.sendResponseHeaders(200, body.length);
            exchange.getResponseBody().write(body);
        }
    }

    private void forward(HttpExchange exchange) throws IOException {
        try (exchange) {
            String path = exchange.getRequestURI().getPath();
            requests.computeIfAbsent(path, k -> new AtomicInteger()).incrementAndGet();
            if (tokenAuth && !("Bearer " + TOKEN).equals(exchange.getRequestHeaders().getFirst("Authorization"))) {
                String repository = path.startsWith("/v2/") && path.contains("/manifests/")
                        ? path.substring(4, path.indexOf("/manifests/"))
                        : path.contains("/blobs/") ? path.substring(4, path.indexOf("/blobs/")) : "";
                exchange.getResponseHeaders().set("WWW-Authenticate", "Bearer realm=\"http://" + address()
                        + "/token\",service=\"flotilla-test\",scope=\"repository:" + repository + ":pull\"");
                exchange.sendResponseHeaders(401, -1);
                return;
            }
            boolean blob = path.contains("/blobs/sha256:");
            if (blob && hiddenBlobHex != null && path.endsWith(hiddenBlobHex)) {
                byte[] error = "{\"errors\":[{\"code\":\"BLOB_UNKNOWN\",\"message\":\"blob unknown to registry\"}]}"
                        .getBytes(StandardCharsets.UTF_8);
                exchange.getResponseHeaders().set("Content-Type", "application/json");
                exchange.sendResponseHeaders(404, error.length);
                exchange.getResponseBody().write(error);
                return;
            }
            if (blob && blobDelayMillis > 0) {
                Thread.sleep(blobDelayMillis);
            }
            HttpRequest.Builder request = HttpRequest.newBuilder(URI.create(upstream + exchange.getRequestURI())).GET();
            String accept = exchange.getRequestHeaders().getFirst("Accept");
            if (accept != null) {
                request.header("Accept", accept);
            }
            HttpResponse<byte[]> response = http.send(request.build(), HttpResponse.BodyHandlers.ofByteArray());
            for (String header : List.of("Content-Type", "Docker-Content-Digest", "Location")) {
                response.headers().firstValue(header).ifPresent(value -> exchange.getResponseHeaders().set(header, value));
            }
            byte[] body = response.body();
            if (response.statusCode() == 200) {
                served.computeIfAbsent(path, k -> new AtomicInteger()).incrementAndGet();
            }
            exchange.sendResponseHeaders(response.statusCode(), body.length == 0 ? -1 : body.length);
            OutputStream out = exchange.getResponseBody();
            if (blob && cutBlobHex != null && path.endsWith(cutBlobHex)) {
                out.write(body, 0, body.length / 2);
                out.flush();
                // Closing with bytes missing makes the server drop the connection: the client
                // sees the body end early, as when a registry or network dies mid-download.
                return;
            }
            if (blob && stallBlobHex != null && path.endsWith(stallBlobHex)) {
                out.write(body, 0, body.length / 2);
                out.flush();
                Thread.sleep(30_000);
                return;
            }
            out.write(body);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }

    @Override
    public void close() {
        server.stop(0);
    }
}
