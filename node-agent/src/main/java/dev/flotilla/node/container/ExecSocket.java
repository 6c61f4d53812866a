package dev.flotilla.node.container;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.flotilla.agent.client.AgentException;
import dev.flotilla.agent.client.ProcessListener;
import dev.flotilla.agent.protocol.ExitStatus;
import dev.flotilla.agent.protocol.Stream;
import dev.flotilla.containers.ContainerException;
import dev.flotilla.containers.ContainerNotFoundException;
import dev.flotilla.containers.ContainerSandbox;
import dev.flotilla.node.api.ApiException;
import dev.flotilla.node.sandbox.Sandbox;
import dev.flotilla.node.sandbox.SandboxManager;
import io.netty.handler.codec.http.QueryStringDecoder;
import io.quarkus.websockets.next.CloseReason;
import io.quarkus.websockets.next.OnBinaryMessage;
import io.quarkus.websockets.next.OnClose;
import io.quarkus.websockets.next.OnOpen;
import io.quarkus.websockets.next.OnTextMessage;
import io.quarkus.websockets.next.WebSocket;
import io.quarkus.websockets.next.WebSocketConnection;
import io.vertx.core.buffer.Buffer;
import jakarta.inject.Inject;
import org.jboss.logging.Logger;

import java.nio.charset.StandardCharsets;
import java.util.HexFormat;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.ThreadLocalRandom;
import java.util.concurrent.TimeUnit;

/**
 * Interactive exec in a running container over WebSocket. The command and terminal come in the query
 * ({@code ?command=sh&command=-c&command=...&tty=true&rows=24&cols=80}); binary frames from the client are the
 * process's stdin; its output comes back as binary frames: raw with a terminal (one merged stream), else each frame
 * prefixed by one byte, 1 for stdout and 2 for stderr (as Kubernetes' channel protocol numbers them). Text frames
 * from the client are control: {@code {"resize":{"rows":R,"cols":C}}}, {@code {"closeStdin":true}},
 * {@code {"signal":N}}. The process's end is a last text frame {@code {"exitCode":N,"signal":S}} and a close with
 * 1000. A client that closes first ends stdin; a process still running {@link #GRACE_MILLIS} later is killed.
 * Refusals close at once: 4400 bad request, 4404 unknown sandbox or container, 4409 no agent connection,
 * 4501 no container runtime; a lost guest agent closes with 1011.
 */
@WebSocket(path = "/api/v1/sandboxes/{ref}/containers/{container}/exec/ws")
public class ExecSocket {
    static final long GRACE_MILLIS = 2000;
    static final int MAX_TTY = 1000;
    private static final Logger LOG = Logger.getLogger(ExecSocket.class);
    private static final ObjectMapper JSON = new ObjectMapper();
    private static final Map<String, Session> SESSIONS = new ConcurrentHashMap<>();

    @Inject
    SandboxManager sandboxes;
    @Inject
    ContainerRuntime runtime;

    @OnOpen
    public void open(WebSocketConnection connection) {
        Session session = new Session(connection);
        SESSIONS.put(connection.id(), session);
        // Everything that talks to the guest agent blocks: one virtual thread per session keeps it off the event
        // loop and keeps stdin in the order the frames came.
        Thread.ofVirtual().name("exec-ws-in-" + connection.id()).start(session::runInput);
        Thread.ofVirtual().name("exec-ws-out-" + connection.id()).start(session::runOutput);
        session.input.add(session::start);
    }

    @OnBinaryMessage
    public void binary(WebSocketConnection connection, Buffer message) {
        Session s = SESSIONS.get(connection.id());
        if (s != null) {
            byte[] data = message.getBytes();
            s.input.add(() -> s.ifStarted(() -> s.sandbox.writeStdin(s.containerId, s.execId, data)));
        }
    }

    @OnTextMessage
    public void text(WebSocketConnection connection, String message) {
        Session s = SESSIONS.get(connection.id());
        if (s != null) {
            s.input.add(() -> s.control(message));
        }
    }

    @OnClose
    public void close(WebSocketConnection connection) {
        Session s = SESSIONS.remove(connection.id());
        if (s != null) {
            s.input.add(s::clientGone);
        }
    }

    /** A refusal or failure as a close code: the HTTP status it would have had, plus 4000. */
    private static final class Refused extends RuntimeException {
        final int code;

        Refused(int code, String reason) {
            super(reason);
            this.code = code;
        }
    }

    private final class Session implements ProcessListener {
        final WebSocketConnection connection;
        final LinkedBlockingQueue<Step> input = new LinkedBlockingQueue<>();
        final LinkedBlockingQueue<Runnable> output = new LinkedBlockingQueue<>();
        final CompletableFuture<ExitStatus> exit = new CompletableFuture<>();
        final String containerId;
        final String execId = "ws-" + HexFormat.of().toHexDigits(ThreadLocalRandom.current().nextLong());
        volatile ContainerSandbox sandbox;
        volatile boolean tty;
        volatile boolean gone;

        Session(WebSocketConnection connection) {
            this.connection = connection;
            this.containerId = connection.pathParam("container");
        }

        void start() throws InterruptedException {
            String ref = connection.pathParam("ref");
            Map<String, List<String>> query = new QueryStringDecoder(
                    Optional.ofNullable(connection.handshakeRequest().query()).orElse(""), false).parameters();
            List<String> command = query.getOrDefault("command", List.of());
            if (command.isEmpty() || command.getFirst().isEmpty()) {
                throw new Refused(4400, "exec needs ?command= (repeated: the program and its arguments)");
            }
            tty = Boolean.parseBoolean(first(query, "tty", "false"));
            int rows = size(query, "rows", 24);
            int cols = size(query, "cols", 80);
            Optional<Sandbox> found = sandboxes.find(ref);
            if (found.isEmpty()) {
                throw new Refused(4404, "sandbox " + ref + " does not exist");
            }
            if (!runtime.available()) {
                throw new Refused(4501, "no containers on this node: " + runtime.unavailableReason());
            }
            ContainerSandbox s = runtime.containers(found.get().spec());
            s.execInteractive(containerId, execId, command,
                    tty ? Optional.of(new ContainerSandbox.Tty(rows, cols)) : Optional.empty(), this);
            sandbox = s;
        }

        private int size(Map<String, List<String>> query, String name, int otherwise) {
            String v = first(query, name, null);
            if (v == null) {
                return otherwise;
            }
            try {
                int n = Integer.parseInt(v);
                if (n >= 1 && n <= MAX_TTY) {
                    return n;
                }
            } catch (NumberFormatException ignored) {
                // refused below
            }
            throw new Refused(4400, name + " must be 1-" + MAX_TTY + ", not '" + v + "'");
        }

        private static String first(Map<String, List<String>> query, String name, String otherwise) {
            List<String> v = query.get(name);
            return v == null || v.isEmpty() ? otherwise : v.getFirst();
        }

        void control(String message) throws InterruptedException {
            JsonNode m;
            try {
                m = JSON.readTree(message);
            } catch (Exception e) {
                m = null;
            }
            if (m == null || !m.isObject()) {
                error("control frames are JSON objects: {\"resize\":{\"rows\":R,\"cols\":C}}, {\"closeStdin\":true}, {\"signal\":N}");
                return;
            }
            JsonNode resize = m.path("resize");
            if (!resize.isMissingNode()) {
                int rows = resize.path("rows").asInt(0);
                int cols = resize.path("cols").asInt(0);
                if (rows < 1 || rows > MAX_TTY || cols < 1 || cols > MAX_TTY) {
                    error("resize needs rows and cols of 1-" + MAX_TTY);
                } else if (!tty) {
                    error("resize needs an exec with tty=true");
                } else {
                    ifStarted(() -> sandbox.resizeTty(containerId, execId, rows, cols));
                }
            }
            if (m.path("closeStdin").asBoolean(false)) {
                ifStarted(() -> sandbox.closeStdin(containerId, execId));
            }
            if (m.has("signal")) {
                int signal = m.path("signal").asInt(0);
                if (signal < 1 || signal > 64) {
                    error("signal must be a Linux signal number, 1-64");
                } else {
                    ifStarted(() -> sandbox.signal(containerId, execId, signal));
                }
            }
        }

        /** The client left: stdin ends; a process that outlives the grace is killed. */
        void clientGone() throws InterruptedException {
            gone = true;
            ContainerSandbox s = sandbox;
            if (s == null || exit.isDone()) {
                return;
            }
            try {
                s.closeStdin(containerId, execId);
                exit.get(GRACE_MILLIS, TimeUnit.MILLISECONDS);
            } catch (java.util.concurrent.TimeoutException e) {
                s.signal(containerId, execId, 9);
            } catch (java.util.concurrent.ExecutionException | ContainerException ignored) {
                // it ended, or the agent is gone: nothing left to stop
            }
            input.add(Step.END);
        }

        void ifStarted(Step step) throws InterruptedException {
            if (sandbox != null && !exit.isDone()) {
                step.run();
            }
        }

        private void error(String message) {
            output.add(() -> connection.sendTextAndAwait(JSON.createObjectNode().put("error", message).toString()));
        }

        void runInput() {
            try {
                while (true) {
                    Step step = input.take();
                    if (step == Step.END) {
                        return;
                    }
                    try {
                        step.run();
                    } catch (Refused e) {
                        closeWith(e.code, e.getMessage());
                    } catch (ApiException e) {
                        closeWith(4000 + e.status(), e.getMessage());
                    } catch (ContainerNotFoundException e) {
                        closeWith(4404, e.getMessage());
                    } catch (ContainerException e) {
                        if (sandbox == null) {
                            closeWith(4409, e.getMessage());
                        } else {
                            error(e.getMessage());
                        }
                    } catch (RuntimeException e) {
                        LOG.warnf(e, "exec %s in container %s", execId, containerId);
                        closeWith(1011, "exec failed: " + e.getMessage());
                    }
                    if (gone && (sandbox == null || exit.isDone())) {
                        return;
                    }
                }
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
            }
        }

        void runOutput() {
            try {
                while (true) {
                    output.take().run();
                }
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
            } catch (RuntimeException e) {
                LOG.debugf("exec %s: the client went away: %s", execId, e.getMessage());
            }
        }

        private void closeWith(int code, String reason) {
            String r = reason == null ? "" : reason;
            // A close reason is at most 123 bytes.
            byte[] bytes = r.getBytes(StandardCharsets.UTF_8);
            String shortened = bytes.length <= 120 ? r : new String(bytes, 0, 120, StandardCharsets.UTF_8);
            // After every frame queued before it; the output thread ends with it.
            output.add(() -> {
                connection.closeAndAwait(new CloseReason(code, shortened));
                throw new IllegalStateException("closed");
            });
        }

        @Override
        public void onOutput(Stream stream, byte[] data) {
            Buffer frame = Buffer.buffer(data.length + 1);
            if (!tty) {
                frame.appendByte((byte) (stream == Stream.STDERR ? 2 : 1));
            }
            frame.appendBytes(data);
            output.add(() -> connection.sendBinaryAndAwait(frame));
        }

        @Override
        public void onExit(ExitStatus status) {
            exit.complete(status);
            output.add(() -> connection.sendTextAndAwait(JSON.createObjectNode()
                    .put("exitCode", status.getExitCode()).put("signal", status.getSignal()).toString()));
            closeWith(1000, "exited");
        }

        @Override
        public void onDisconnected(AgentException cause) {
            exit.completeExceptionally(cause);
            closeWith(1011, "lost the guest agent: " + cause.getMessage());
        }
    }

    @FunctionalInterface
    private interface Step {
        void run() throws InterruptedException;

        Step END = () -> { };
    }
}
