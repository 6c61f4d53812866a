package dev.flotilla.cri.streaming;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.WebSocket;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionStage;
import java.util.concurrent.TimeUnit;

/**
 * kubectl's side of an exec or attach URL over WebSocket ({@code v5.channel.k8s.io}, the JDK's client), for tests
 * here and in the e2e suites (this module's test jar): sends stdin, closes it ({@code [255, 0]}) and returns what
 * arrived on channels 0–3 (stdin, stdout, stderr, the final Status) once the server closed the connection.
 */
public final class WebSocketTestClient {
    private WebSocketTestClient() {
    }

    public static String[] exchange(String url, String stdin, long connectSeconds, long endSeconds) throws Exception {
        ByteArrayOutputStream[] channels = new ByteArrayOutputStream[4];
        for (int i = 0; i < channels.length; i++) {
            channels[i] = new ByteArrayOutputStream();
        }
        CompletableFuture<Void> closed = new CompletableFuture<>();
        WebSocket socket = HttpClient.newHttpClient().newWebSocketBuilder().subprotocols(WebSocketExecHandler.V5)
                .buildAsync(URI.create(url.replaceFirst("^http", "ws")), new WebSocket.Listener() {
                    private final ByteArrayOutputStream partial = new ByteArrayOutputStream();

                    @Override
                    public CompletionStage<?> onBinary(WebSocket ws, ByteBuffer data, boolean last) {
                        byte[] bytes = new byte[data.remaining()];
                        data.get(bytes);
                        partial.writeBytes(bytes);
                        if (last) {
                            byte[] message = partial.toByteArray();
                            partial.reset();
                            if (message.length > 0 && message[0] >= 0 && message[0] < channels.length) {
                                channels[message[0]].write(message, 1, message.length - 1);
                            }
                        }
                        ws.request(1);
                        return null;
                    }

                    @Override
                    public CompletionStage<?> onClose(WebSocket ws, int status, String reason) {
                        closed.complete(null);
                        return null;
                    }

                    @Override
                    public void onError(WebSocket ws, Throwable error) {
                        closed.completeExceptionally(error);
                    }
                }).get(connectSeconds, TimeUnit.SECONDS);
        if (!WebSocketExecHandler.V5.equals(socket.getSubprotocol())) {
            throw new IOException("the server chose subprotocol '" + socket.getSubprotocol() + "', not "
                    + WebSocketExecHandler.V5);
        }
        if (!stdin.isEmpty()) {
            byte[] bytes = stdin.getBytes(StandardCharsets.UTF_8);
            socket.sendBinary(ByteBuffer.allocate(bytes.length + 1).put((byte) 0).put(bytes).flip(), true).join();
        }
        socket.sendBinary(ByteBuffer.wrap(new byte[] {(byte) 255, 0}), true).join();
        closed.get(endSeconds, TimeUnit.SECONDS);
        String[] text = new String[channels.length];
        for (int i = 0; i < channels.length; i++) {
            text[i] = channels[i].toString(StandardCharsets.UTF_8);
        }
        return text;
    }
}
