package dev.flotilla.node.contract;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.sun.net.httpserver.HttpExchange;
import com.sun.net.httpserver.HttpServer;
import dev.flotilla.contract.v1.ControlPlanePaths;
import dev.flotilla.contract.v1.Heartbeat;
import dev.flotilla.contract.v1.HeartbeatAck;
import dev.flotilla.contract.v1.NodeRegistration;
import dev.flotilla.contract.v1.NodeRegistrationAccepted;
import io.quarkus.test.common.QuarkusTestResourceLifecycleManager;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.net.InetSocketAddress;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.atomic.AtomicInteger;

/**
 * The control plane's side of contract v1 on a real HTTP server (the JDK's): registration with a join token,
 * node tokens, heartbeats. Records what the agent sent; can forget the node or go down and come back.
 */
public class FakeControlPlane implements QuarkusTestResourceLifecycleManager {
    static final String JOIN_TOKEN = "join-secret";
    static final List<NodeRegistration> REGISTRATIONS = new CopyOnWriteArrayList<>();
    static final List<Heartbeat> HEARTBEATS = new CopyOnWriteArrayList<>();
    private static final AtomicInteger TOKENS = new AtomicInteger();
    private static final ObjectMapper JSON = new ObjectMapper().findAndRegisterModules();
    private static volatile String currentToken;
    private static volatile HttpServer server;
    private static int port;

    @Override
    public Map<String, String> start() {
        try {
            startServer(0);
            return Map.of("flotilla.node.control-plane.url", "http://127.0.0.1:" + port,
                    "flotilla.node.control-plane.join-token", JOIN_TOKEN,
                    "flotilla.node.control-plane.advertise-url", "http://127.0.0.1:7070",
                    "flotilla.node.control-plane.retry-max", "1s",
                    "flotilla.node.name", "test-node",
                    "flotilla.node.state-dir", Files.createTempDirectory("flotilla-node-cp-test-").toString());
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    @Override
    public void stop() {
        goDown();
    }

    static synchronized void startServer(int wantedPort) throws IOException {
        HttpServer s = HttpServer.create(new InetSocketAddress("127.0.0.1", wantedPort), 16);
        s.createContext("/api/v1/nodes/", FakeControlPlane::handle);
        s.start();
        port = s.getAddress().getPort();
        server = s;
    }

    /** Stops answering: connections are refused, as when the control plane is down. */
    static synchronized void goDown() {
        if (server != null) {
            server.stop(0);
            server = null;
        }
    }

    static void comeBack() throws IOException {
        startServer(port);
    }

    /** Invalidates the node token, as a control plane that lost its state would. */
    static void forgetNode() {
        currentToken = "forgotten";
    }

    private static void handle(HttpExchange exchange) throws IOException {
        String path = exchange.getRequestURI().getPath();
        String auth = exchange.getRequestHeaders().getFirst("Authorization");
        byte[] body = exchange.getRequestBody().readAllBytes();
        if (path.equals(ControlPlanePaths.REGISTER)) {
            if (!("Bearer " + JOIN_TOKEN).equals(auth)) {
                answer(exchange, 401, Map.of("detail", "bad join token"));
                return;
            }
            REGISTRATIONS.add(JSON.readValue(body, NodeRegistration.class));
            currentToken = "node-token-" + TOKENS.incrementAndGet();
            answer(exchange, 200, new NodeRegistrationAccepted("node-1", currentToken, 1, 3, "v1"));
        } else if (path.equals(ControlPlanePaths.heartbeat("node-1"))) {
            if (!("Bearer " + currentToken).equals(auth)) {
                answer(exchange, 401, Map.of("detail", "unknown node token"));
                return;
            }
            HEARTBEATS.add(JSON.readValue(body, Heartbeat.class));
            answer(exchange, 200, new HeartbeatAck(1, "READY", false));
        } else {
            answer(exchange, 404, Map.of("detail", "no such path " + path));
        }
    }

    private static void answer(HttpExchange exchange, int status, Object body) throws IOException {
        byte[] bytes = JSON.writeValueAsBytes(body);
        exchange.getResponseHeaders().set("Content-Type", "application/json");
        exchange.sendResponseHeaders(status, bytes.length);
        exchange.getResponseBody().write(bytes);
        exchange.close();
    }

    static String text(Object o) {
        try {
            return new String(JSON.writeValueAsBytes(o), StandardCharsets.UTF_8);
        } catch (IOException e) {
            return String.valueOf(o);
        }
    }
}
