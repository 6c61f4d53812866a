package dev.flotilla.cri.streaming;

import dev.flotilla.cri.CriException;
import dev.flotilla.cri.v1.ExecRequest;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.net.http.WebSocket;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionStage;
import java.util.concurrent.TimeUnit;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** The exec streaming server's two wire protocols against real local processes (LocalProcessExec). */
class StreamingServerTest {
    private static final List<String> SCRIPT = List.of("sh", "-c", "read line; echo got $line; echo oops >&2; exit 3");
    private static StreamingServer server;
    private static LocalProcessExec processes;

    @BeforeAll
    static void start() throws IOException {
        processes = new LocalProcessExec();
        server = StreamingServer.start(StreamingServer.loopback(0), processes);
    }

    @AfterAll
    static void stop() {
        server.close();
    }

    private static ExecRequest exec(List<String> cmd, boolean tty) {
        return ExecRequest.newBuilder().setContainerId("c1").addAllCmd(cmd).setStdin(true).setStdout(true)
                .setStderr(!tty).setTty(tty).build();
    }

    /** What a client saw: output per channel and the final status. */
    record Seen(String stdout, String stderr, String status) {
    }

    @Test
    void webSocketV5_stdinOutputAndExitCodeStatus() throws Exception {
        Seen seen = webSocket(server.execUrl(exec(SCRIPT, false)), "hello\n");

        assertEquals("got hello\n", seen.stdout());
        assertEquals("oops\n", seen.stderr());
        assertTrue(seen.status().contains("\"reason\":\"NonZeroExitCode\"") && seen.status().contains(
                "{\"reason\":\"ExitCode\",\"message\":\"3\"}"), seen.status());
    }

    @Test
    void spdy_stdinOutputAndExitCodeStatus() throws Exception {
        Seen seen = spdy(server.execUrl(exec(SCRIPT, false)), "hello\n", List.of("error", "stdin", "stdout", "stderr"));

        assertEquals("got hello\n", seen.stdout());
        assertEquals("oops\n", seen.stderr());
        assertTrue(seen.status().contains("{\"reason\":\"ExitCode\",\"message\":\"3\"}"), seen.status());
    }

    @Test
    void spdy_success_isStatusSuccess_andTerminalSizesReachTheProcess() throws Exception {
        Seen seen = spdy(server.execUrl(exec(List.of("cat"), true)), "typed\n", List.of("error", "stdin", "stdout", "resize"));

        assertEquals("typed\n", seen.stdout());
        assertEquals(ExecSession.SUCCESS, seen.status());
        assertEquals(List.of("100x30"), processes.resizes);
    }

    @Test
    void url_isGoodOnce_andBadRequestsAreRefusedInWords() throws Exception {
        String url = server.execUrl(exec(List.of("true"), false));
        webSocket(url, "");
        HttpClient http = HttpClient.newHttpClient();
        CompletableFuture<WebSocket> again = http.newWebSocketBuilder().subprotocols(WebSocketExecHandler.V5)
                .buildAsync(URI.create(url.replace("http:", "ws:")), new WebSocket.Listener() { });
        Exception refused = assertThrows(Exception.class, () -> again.get(10, TimeUnit.SECONDS));
        assertEquals(404, ((java.net.http.WebSocketHandshakeException) refused.getCause()).getResponse().statusCode());

        HttpResponse<String> plain = http.send(HttpRequest.newBuilder(URI.create(server.execUrl(exec(List.of("true"), false))))
                .POST(HttpRequest.BodyPublishers.noBody()).build(), HttpResponse.BodyHandlers.ofString());
        assertEquals(400, plain.statusCode());
        assertTrue(plain.body().contains("needs a connection upgrade"), plain.body());

        CriException missing = assertThrows(CriException.class, () -> server.execUrl(ExecRequest.newBuilder()
                .setContainerId("missing").addCmd("true").setStdout(true).build()));
        assertEquals(CriException.Reason.NOT_FOUND, missing.reason());
    }

    @Test
    void clientGoingAway_killsTheCommand() throws Exception {
        String url = server.execUrl(exec(List.of("sleep", "600"), false));
        WebSocket socket = HttpClient.newHttpClient().newWebSocketBuilder().subprotocols(WebSocketExecHandler.V5)
                .buildAsync(URI.create(url.replace("http:", "ws:")), new WebSocket.Listener() { }).get(10, TimeUnit.SECONDS);
        long until = System.nanoTime() + TimeUnit.SECONDS.toNanos(10);
        while ((processes.last == null || !processes.last.info().commandLine().orElse("").contains("sleep"))
                && System.nanoTime() < until) {
            Thread.sleep(20);
        }
        Process sleeper = processes.last;
        socket.abort();
        assertTrue(sleeper.waitFor(10, TimeUnit.SECONDS), "the command was killed when its client went away");
    }

    // ---- a WebSocket client (the JDK's) speaking v5.channel.k8s.io ----

    static Seen webSocket(String url, String input) throws Exception {
        String[] channels = WebSocketTestClient.exchange(url, input, 10, 30);
        return new Seen(channels[1], channels[2], channels[3]);
    }

    // ---- a SPDY/3.1 client speaking v4.channel.k8s.io, as the kubelet's proxy relays it ----

    static Seen spdy(String url, String input, List<String> streamTypes) throws Exception {
        try (SpdyTestClient client = SpdyTestClient.connect(url, List.of("v4.channel.k8s.io", "channel.k8s.io"))) {
            Map<String, Integer> ids = new java.util.HashMap<>();
            for (String type : streamTypes) {
                ids.put(type, client.open(Map.of("streamtype", type)));
            }
            if (ids.containsKey("resize")) {
                client.send(ids.get("resize"), "{\"Width\":100,\"Height\":30}\n", false);
            }
            client.send(ids.get("stdin"), input, true);
            assertTrue(client.awaitClosed(30), "the server closed the connection at the end; received so far: "
                    + client.received(ids.get("stdout")) + " / " + client.received(ids.get("error")));
            return new Seen(client.received(ids.get("stdout")), ids.containsKey("stderr")
                    ? client.received(ids.get("stderr")) : "", client.received(ids.get("error")));
        }
    }
}
