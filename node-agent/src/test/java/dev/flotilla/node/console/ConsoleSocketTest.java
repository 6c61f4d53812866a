package dev.flotilla.node.console;

import dev.flotilla.node.Api;
import dev.flotilla.node.TempStateDir;
import io.quarkus.test.common.QuarkusTestResource;
import io.quarkus.test.common.http.TestHTTPResource;
import io.quarkus.test.junit.QuarkusTest;
import org.junit.jupiter.api.Test;

import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.WebSocket;
import java.net.http.WebSocketHandshakeException;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionException;
import java.util.concurrent.CompletionStage;
import java.util.concurrent.TimeUnit;

import static dev.flotilla.node.Api.given;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** The serial console WebSocket against a real tiny-guest VM. */
@QuarkusTest
@QuarkusTestResource(value = TempStateDir.class, restrictToAnnotatedClass = true)
class ConsoleSocketTest {
    @TestHTTPResource("/")
    URI base;

    private URI ws(String path) {
        return URI.create("ws://" + base.getHost() + ":" + base.getPort() + path);
    }

    @Test
    void console_ofRunningSandbox_streamsTheBanner() throws Exception {
        String id = given().body("{\"name\":\"con\"}").post("/api/v1/sandboxes").then().statusCode(201).extract().path("id");
        Api.awaitState("/api/v1/sandboxes/" + id, "RUNNING", Duration.ofSeconds(20));
        StringBuilder received = new StringBuilder();
        CompletableFuture<String> banner = new CompletableFuture<>();
        WebSocket socket = HttpClient.newHttpClient().newWebSocketBuilder()
                .header("Authorization", "Bearer " + Api.TOKEN)
                .buildAsync(ws("/api/v1/sandboxes/con/console/ws"), new WebSocket.Listener() {
                    @Override
                    public CompletionStage<?> onBinary(WebSocket webSocket, ByteBuffer data, boolean last) {
                        synchronized (received) {
                            received.append(StandardCharsets.US_ASCII.decode(data));
                            if (received.toString().contains("is up")) {
                                banner.complete(received.toString());
                            }
                        }
                        webSocket.request(1);
                        return null;
                    }
                }).get(10, TimeUnit.SECONDS);
        String text = banner.get(10, TimeUnit.SECONDS);
        assertTrue(text.contains("flotilla tiny guest con (" + id + ") is up"), text);
        socket.abort();
    }

    @Test
    void console_withoutToken_isRefusedAtHandshake() {
        CompletionException e = assertThrows(CompletionException.class, () -> HttpClient.newHttpClient()
                .newWebSocketBuilder().buildAsync(ws("/api/v1/sandboxes/any/console/ws"), new WebSocket.Listener() {
                }).join());
        assertInstanceOf(WebSocketHandshakeException.class, e.getCause());
        assertEquals(401, ((WebSocketHandshakeException) e.getCause()).getResponse().statusCode());
    }

    @Test
    void console_ofUnknownSandbox_isClosedWithReason() throws Exception {
        CompletableFuture<Integer> closed = new CompletableFuture<>();
        HttpClient.newHttpClient().newWebSocketBuilder().header("Authorization", "Bearer " + Api.TOKEN)
                .buildAsync(ws("/api/v1/sandboxes/ghost/console/ws"), new WebSocket.Listener() {
                    @Override
                    public CompletionStage<?> onClose(WebSocket webSocket, int statusCode, String reason) {
                        closed.complete(statusCode);
                        return null;
                    }
                }).get(10, TimeUnit.SECONDS);
        assertEquals(4404, closed.get(10, TimeUnit.SECONDS));
    }
}
