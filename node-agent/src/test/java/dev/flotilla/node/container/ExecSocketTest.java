package dev.flotilla.node.container;

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

/**
 * The exec WebSocket's refusals on this host (a container needs a Linux guest: the happy path is in the lab's
 * NodeAgentE2E).
 */
@QuarkusTest
@QuarkusTestResource(value = TempStateDir.class, restrictToAnnotatedClass = true)
class ExecSocketTest {
    @TestHTTPResource("/")
    URI base;
    /** One client for every socket of the class (a client per socket keeps a selector thread each). */
    private static final HttpClient HTTP = HttpClient.newHttpClient();

    record Closed(int code, String reason) {
    }

    private Closed closeOf(String path) throws Exception {
        CompletableFuture<Closed> closed = new CompletableFuture<>();
        HTTP.newWebSocketBuilder().header("Authorization", "Bearer " + Api.TOKEN)
                .buildAsync(URI.create("ws://" + base.getHost() + ":" + base.getPort() + path), new WebSocket.Listener() {
                    @Override
                    public CompletionStage<?> onClose(WebSocket webSocket, int statusCode, String reason) {
                        closed.complete(new Closed(statusCode, reason));
                        return null;
                    }
                }).get(10, TimeUnit.SECONDS);
        return closed.get(10, TimeUnit.SECONDS);
    }

    @Test
    void exec_withoutToken_isRefusedAtHandshake() {
        CompletionException e = assertThrows(CompletionException.class, () -> HTTP.newWebSocketBuilder()
                .buildAsync(URI.create("ws://" + base.getHost() + ":" + base.getPort()
                        + "/api/v1/sandboxes/any/containers/main/exec/ws?command=sh"), new WebSocket.Listener() {
                }).join());
        assertInstanceOf(WebSocketHandshakeException.class, e.getCause());
        assertEquals(401, ((WebSocketHandshakeException) e.getCause()).getResponse().statusCode());
    }

    @Test
    void exec_withoutCommand_isClosed4400() throws Exception {
        Closed c = closeOf("/api/v1/sandboxes/ghost/containers/main/exec/ws?tty=true");
        assertEquals(4400, c.code(), c.toString());
        assertTrue(c.reason().contains("command"), c.reason());
    }

    @Test
    void exec_withBadTerminalSize_isClosed4400() throws Exception {
        Closed c = closeOf("/api/v1/sandboxes/ghost/containers/main/exec/ws?command=sh&tty=true&rows=0");
        assertEquals(4400, c.code(), c.toString());
        assertTrue(c.reason().contains("rows"), c.reason());
    }

    @Test
    void exec_inUnknownSandbox_isClosed4404() throws Exception {
        Closed c = closeOf("/api/v1/sandboxes/ghost/containers/main/exec/ws?command=sh");
        assertEquals(4404, c.code(), c.toString());
        assertEquals("sandbox ghost does not exist", c.reason());
    }

    @Test
    void fiftySessionsInARow_eachHandshakeAndRefusalIsPrompt() throws Exception {
        given().body("{\"name\":\"noimage50\"}").post("/api/v1/sandboxes").then().statusCode(201);
        Api.awaitState("/api/v1/sandboxes/noimage50", "RUNNING", Duration.ofSeconds(20));
        for (int i = 0; i < 50; i++) {
            long start = System.nanoTime();
            Closed c = closeOf("/api/v1/sandboxes/noimage50/containers/main/exec/ws?command=sh");
            long millis = (System.nanoTime() - start) / 1_000_000;
            assertEquals(4409, c.code(), "session " + i + ": " + c);
            assertTrue(millis < 5_000, "session " + i + " took " + millis + " ms");
        }
        given().delete("/api/v1/sandboxes/noimage50").then().statusCode(204);
    }

    @Test
    void exec_inSandboxWithoutImage_isClosed4409() throws Exception {
        given().body("{\"name\":\"noimage\"}").post("/api/v1/sandboxes").then().statusCode(201);
        Api.awaitState("/api/v1/sandboxes/noimage", "RUNNING", Duration.ofSeconds(20));
        Closed c = closeOf("/api/v1/sandboxes/noimage/containers/main/exec/ws?command=sh");
        assertEquals(4409, c.code(), c.toString());
        given().delete("/api/v1/sandboxes/noimage").then().statusCode(204);
    }
}
