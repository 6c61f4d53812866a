package dev.flotilla.node.console;

import dev.flotilla.node.sandbox.Sandbox;
import dev.flotilla.node.sandbox.SandboxManager;
import io.quarkus.websockets.next.CloseReason;
import io.quarkus.websockets.next.OnBinaryMessage;
import io.quarkus.websockets.next.OnClose;
import io.quarkus.websockets.next.OnOpen;
import io.quarkus.websockets.next.OnTextMessage;
import io.quarkus.websockets.next.WebSocket;
import io.quarkus.websockets.next.WebSocketConnection;
import io.vertx.core.buffer.Buffer;
import jakarta.inject.Inject;

import java.nio.charset.StandardCharsets;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.ConcurrentHashMap;

/**
 * A sandbox's serial console over WebSocket: on open, the retained output then live output as binary frames;
 * frames from the client (text or binary) go to the guest's UART. Input the UART's FIFO cannot take is dropped
 * (a real UART overruns too); the guest paces its reads. Authentication happens in front, as for every route.
 */
@WebSocket(path = "/api/v1/sandboxes/{ref}/console/ws")
public class ConsoleSocket {
    private static final Map<String, Runnable> SUBSCRIPTIONS = new ConcurrentHashMap<>();

    @Inject
    SandboxManager sandboxes;

    @OnOpen
    public void open(WebSocketConnection connection) {
        String ref = connection.pathParam("ref");
        Optional<Sandbox> sandbox = sandboxes.find(ref);
        if (sandbox.isEmpty()) {
            connection.close(new CloseReason(4404, "sandbox " + ref + " does not exist")).subscribe().with(v -> { }, e -> { });
            return;
        }
        Runnable unsubscribe = sandbox.get().console().subscribe(chunk ->
                connection.sendBinary(Buffer.buffer(chunk)).subscribe().with(v -> { }, e -> { }));
        SUBSCRIPTIONS.put(connection.id(), unsubscribe);
    }

    @OnTextMessage
    public void text(WebSocketConnection connection, String message) {
        input(connection, message.getBytes(StandardCharsets.UTF_8));
    }

    @OnBinaryMessage
    public void binary(WebSocketConnection connection, Buffer message) {
        input(connection, message.getBytes());
    }

    private void input(WebSocketConnection connection, byte[] data) {
        sandboxes.find(connection.pathParam("ref")).map(Sandbox::vm)
                .ifPresent(vm -> vm.sendConsoleInput(data, 0, data.length));
    }

    @OnClose
    public void close(WebSocketConnection connection) {
        Runnable unsubscribe = SUBSCRIPTIONS.remove(connection.id());
        if (unsubscribe != null) {
            unsubscribe.run();
        }
    }
}
