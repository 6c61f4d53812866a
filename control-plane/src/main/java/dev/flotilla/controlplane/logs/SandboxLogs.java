package dev.flotilla.controlplane.logs;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.flotilla.contract.v1.ContractVersion;
import dev.flotilla.contract.v1.NodeAgentPaths;
import dev.flotilla.controlplane.api.ApiException;
import dev.flotilla.controlplane.config.FlotillaConfig;
import dev.flotilla.controlplane.node.NodeEntity;
import dev.flotilla.controlplane.sandbox.SandboxEntity;
import dev.flotilla.controlplane.sandbox.SandboxService;
import jakarta.annotation.PostConstruct;
import jakarta.inject.Inject;
import jakarta.inject.Singleton;

import java.io.IOException;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.net.http.WebSocket;
import java.nio.ByteBuffer;
import java.nio.CharBuffer;
import java.nio.charset.CharsetDecoder;
import java.nio.charset.CodingErrorAction;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionStage;
import java.util.concurrent.Flow;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicReference;

/**
 * A sandbox's output, relayed from the node agent that runs it: its serial console or a container's logs, as a
 * snapshot or live. The agent knows the sandbox by the control plane's sandbox id (the reconciler launches it under
 * that id). Refusals are {@link ApiException}s a user can act on: 404 no such sandbox, 409 it is on no node or its
 * node does not have it (yet), 503 its node cannot be called at all, 502 its node agent did not answer or refused.
 */
@Singleton
public class SandboxLogs {
    /** Longest body a snapshot relays: the agent keeps 64 KiB of console and 256 KiB per container stream. */
    private static final int MAX_SNAPSHOT_BYTES = 1 << 20;

    @Inject
    SandboxService sandboxes;
    @Inject
    FlotillaConfig config;
    @Inject
    ObjectMapper json;

    private HttpClient http;
    private Duration timeout;

    /** Where a sandbox's output is read: its node agent, by the id that agent knows it by. */
    public record Target(String sandboxId, String sandboxName, String nodeName, String endpoint, String token) {
    }

    /** Receives a live stream; calls may come from any thread, one at a time. */
    public interface Listener {
        void output(String text);

        /** The stream ended normally (the agent closed it, the container exited); nothing follows. */
        void end(String why);

        /** The stream failed; nothing follows. */
        void failure(ApiException problem);
    }

    @PostConstruct
    void init() {
        timeout = config.reconciler().agentTimeout();
        http = HttpClient.newBuilder().connectTimeout(timeout).version(HttpClient.Version.HTTP_1_1).build();
    }

    /** Finds the sandbox and its node. Reads the database: call on a worker thread. */
    public Target resolve(String ref) {
        SandboxEntity sandbox = sandboxes.find(ref);
        if (sandbox.nodeId == null) {
            throw ApiException.conflict("sandbox " + sandbox.name + " is on no node (" + sandbox.observedState
                    + (sandbox.message == null ? "" : ": " + sandbox.message) + "), so it has no console or logs to show");
        }
        NodeEntity node = NodeEntity.findById(sandbox.nodeId);
        if (node == null || node.agentEndpoint == null) {
            throw new ApiException(503, "Service Unavailable", "node " + sandbox.lastNodeName
                    + " registered no agent address, so the control plane cannot read sandbox " + sandbox.name + "'s output");
        }
        return new Target(sandbox.id.toString(), sandbox.name, node.name, node.agentEndpoint, node.agentToken);
    }

    /** The retained output: the serial console (container null) or a container's logs. */
    public String snapshot(Target target, String container) {
        String path = container == null ? NodeAgentPaths.console(target.sandboxId())
                : NodeAgentPaths.containerLogs(target.sandboxId(), container);
        HttpRequest request = request(target, path).GET().build();
        HttpResponse<byte[]> response;
        try {
            response = http.send(request, HttpResponse.BodyHandlers.ofByteArray());
        } catch (IOException e) {
            throw unreachable(target, e);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new ApiException(503, "Service Unavailable", "interrupted while reading from node " + target.nodeName());
        }
        if (response.statusCode() / 100 != 2) {
            throw refused(target, container, response.statusCode(), response.body());
        }
        byte[] body = response.body();
        int from = Math.max(0, body.length - MAX_SNAPSHOT_BYTES);
        return new String(body, from, body.length - from, StandardCharsets.UTF_8);
    }

    /**
     * Relays live output until the agent ends it or the returned handle is run: the serial console over the agent's
     * WebSocket (retained output first), or a container's logs with {@code follow}. Connection failures arrive as
     * {@link Listener#failure} with the same statuses {@link #snapshot} throws.
     */
    public Runnable stream(Target target, String container, Listener listener) {
        Listener once = new OnceListener(listener);
        return container == null ? console(target, once) : followContainer(target, container, once);
    }

    private Runnable console(Target target, Listener listener) {
        String base = target.endpoint().replaceFirst("(?i)^http", "ws");
        URI uri = URI.create(strip(base) + NodeAgentPaths.consoleWebSocket(target.sandboxId()));
        WebSocket.Builder builder = http.newWebSocketBuilder().connectTimeout(timeout)
                .header(ContractVersion.HEADER, ContractVersion.CURRENT);
        if (target.token() != null) {
            builder.header("Authorization", "Bearer " + target.token());
        }
        AtomicReference<WebSocket> open = new AtomicReference<>();
        AtomicBoolean cancelled = new AtomicBoolean();
        builder.buildAsync(uri, new ConsoleRelay(target, listener)).whenComplete((socket, failure) -> {
            if (failure != null) {
                listener.failure(handshakeFailure(target, failure));
            } else if (cancelled.get()) {
                socket.abort();
            } else {
                open.set(socket);
            }
        });
        return () -> {
            cancelled.set(true);
            WebSocket socket = open.get();
            if (socket != null) {
                socket.abort();
            }
        };
    }

    /** Turns the agent's binary frames into text (UTF-8 sequences may span frames). */
    private final class ConsoleRelay implements WebSocket.Listener {
        private final Target target;
        private final Listener listener;
        private final CharsetDecoder decoder = StandardCharsets.UTF_8.newDecoder()
                .onMalformedInput(CodingErrorAction.REPLACE).onUnmappableCharacter(CodingErrorAction.REPLACE);
        private ByteBuffer pending = ByteBuffer.allocate(0);

        ConsoleRelay(Target target, Listener listener) {
            this.target = target;
            this.listener = listener;
        }

        @Override
        public CompletionStage<?> onBinary(WebSocket socket, ByteBuffer data, boolean last) {
            ByteBuffer input = ByteBuffer.allocate(pending.remaining() + data.remaining()).put(pending).put(data).flip();
            CharBuffer text = CharBuffer.allocate(input.remaining() + 1);
            decoder.decode(input, text, false);
            pending = input.slice();
            text.flip();
            if (text.hasRemaining()) {
                listener.output(text.toString());
            }
            socket.request(1);
            return null;
        }

        @Override
        public CompletionStage<?> onText(WebSocket socket, CharSequence data, boolean last) {
            listener.output(data.toString());
            socket.request(1);
            return null;
        }

        @Override
        public CompletionStage<?> onClose(WebSocket socket, int status, String reason) {
            if (status == NodeAgentPaths.CONSOLE_UNKNOWN_SANDBOX) {
                listener.failure(notOnNode(target));
            } else {
                listener.end("node " + target.nodeName() + " closed the console" + (reason == null || reason.isBlank()
                        ? "" : ": " + reason));
            }
            return null;
        }

        @Override
        public void onError(WebSocket socket, Throwable error) {
            listener.failure(unreachable(target, error));
        }
    }

    private Runnable followContainer(Target target, String container, Listener listener) {
        HttpRequest request = request(target, NodeAgentPaths.containerLogs(target.sandboxId(), container) + "?follow=true")
                .timeout(Duration.ofDays(365)).GET().build();
        AtomicReference<Flow.Subscription> subscription = new AtomicReference<>();
        AtomicBoolean cancelled = new AtomicBoolean();
        CompletableFuture<HttpResponse<Void>> call = http.sendAsync(request, info -> {
            if (info.statusCode() / 100 != 2) {
                return HttpResponse.BodySubscribers.mapping(HttpResponse.BodySubscribers.ofByteArray(), body -> {
                    listener.failure(refused(target, container, info.statusCode(), body));
                    return null;
                });
            }
            return HttpResponse.BodySubscribers.fromSubscriber(new Flow.Subscriber<List<ByteBuffer>>() {
                private final CharsetDecoder decoder = StandardCharsets.UTF_8.newDecoder()
                        .onMalformedInput(CodingErrorAction.REPLACE).onUnmappableCharacter(CodingErrorAction.REPLACE);
                private ByteBuffer pending = ByteBuffer.allocate(0);

                @Override
                public void onSubscribe(Flow.Subscription s) {
                    subscription.set(s);
                    if (cancelled.get()) {
                        s.cancel();
                    } else {
                        s.request(Long.MAX_VALUE);
                    }
                }

                @Override
                public void onNext(List<ByteBuffer> buffers) {
                    StringBuilder out = new StringBuilder();
                    for (ByteBuffer buffer : buffers) {
                        ByteBuffer input = ByteBuffer.allocate(pending.remaining() + buffer.remaining()).put(pending)
                                .put(buffer).flip();
                        CharBuffer text = CharBuffer.allocate(input.remaining() + 1);
                        decoder.decode(input, text, false);
                        pending = input.slice();
                        out.append(text.flip());
                    }
                    if (!out.isEmpty()) {
                        listener.output(out.toString());
                    }
                }

                @Override
                public void onError(Throwable error) {
                    listener.failure(unreachable(target, error));
                }

                @Override
                public void onComplete() {
                    listener.end("container " + container + " exited; its output is complete");
                }
            });
        });
        call.whenComplete((response, failure) -> {
            if (failure != null) {
                listener.failure(unreachable(target, failure));
            }
        });
        return () -> {
            cancelled.set(true);
            Flow.Subscription s = subscription.get();
            if (s != null) {
                s.cancel();
            }
            call.cancel(true);
        };
    }

    private HttpRequest.Builder request(Target target, String path) {
        HttpRequest.Builder builder = HttpRequest.newBuilder(URI.create(strip(target.endpoint()) + path)).timeout(timeout)
                .header(ContractVersion.HEADER, ContractVersion.CURRENT).header("Accept", "text/plain");
        if (target.token() != null) {
            builder.header("Authorization", "Bearer " + target.token());
        }
        return builder;
    }

    private static String strip(String endpoint) {
        return endpoint.endsWith("/") ? endpoint.substring(0, endpoint.length() - 1) : endpoint;
    }

    private static ApiException unreachable(Target target, Throwable cause) {
        Throwable root = cause;
        while (root.getCause() != null && root != root.getCause()
                && (root instanceof java.util.concurrent.CompletionException || root.getMessage() == null)) {
            root = root.getCause();
        }
        String why = root.getMessage() == null ? root.getClass().getSimpleName() : root.getClass().getSimpleName()
                + ": " + root.getMessage();
        return new ApiException(502, "Bad Gateway", "the node agent of node " + target.nodeName() + " at "
                + target.endpoint() + " could not be reached (" + why + ")");
    }

    /** An agent that answered the upgrade with a status refused the console; anything else did not answer. */
    private ApiException handshakeFailure(Target target, Throwable failure) {
        for (Throwable t = failure; t != null; t = t.getCause()) {
            if (t instanceof java.net.http.WebSocketHandshakeException refusal) {
                HttpResponse<?> response = refusal.getResponse();
                if (response.statusCode() == 404) {
                    // The agent refuses unknown sandboxes after the upgrade (4404): a 404 here means no such route.
                    return new ApiException(502, "Bad Gateway", "the node agent of node " + target.nodeName()
                            + " does not serve a console WebSocket (HTTP 404 at " + NodeAgentPaths.CONSOLE_WEBSOCKET + ")");
                }
                Object body = response.body();
                return refused(target, null, response.statusCode(),
                        body instanceof byte[] bytes ? bytes : body == null ? null : body.toString().getBytes(StandardCharsets.UTF_8));
            }
        }
        return unreachable(target, failure);
    }

    private static ApiException notOnNode(Target target) {
        return ApiException.conflict("node " + target.nodeName() + " does not run sandbox " + target.sandboxName()
                + " (not launched there yet, or already removed)");
    }

    /** The agent answered with an error: say what it means for the user, with the agent's own words. */
    private ApiException refused(Target target, String container, int status, byte[] body) {
        String detail = agentDetail(body);
        return switch (status) {
            case 404 -> container == null ? notOnNode(target) : ApiException.conflict("node " + target.nodeName()
                    + " has no container " + container + " in sandbox " + target.sandboxName()
                    + (detail.isEmpty() ? "" : " (" + detail + ")"));
            case 409, 501 -> ApiException.conflict("node " + target.nodeName() + " has no container logs for sandbox "
                    + target.sandboxName() + (detail.isEmpty() ? "" : ": " + detail));
            case 503 -> new ApiException(503, "Service Unavailable", "the node agent of node " + target.nodeName()
                    + " is unavailable" + (detail.isEmpty() ? "" : ": " + detail));
            default -> new ApiException(502, "Bad Gateway", "the node agent of node " + target.nodeName()
                    + " answered HTTP " + status + (detail.isEmpty() ? "" : ": " + detail));
        };
    }

    private String agentDetail(byte[] body) {
        if (body == null || body.length == 0) {
            return "";
        }
        try {
            JsonNode problem = json.readTree(body);
            if (problem != null && problem.hasNonNull("detail")) {
                return problem.get("detail").asText();
            }
        } catch (IOException notJson) {
            // fall through: show the start of the raw body
        }
        String text = new String(body, StandardCharsets.UTF_8).strip();
        return text.length() > 200 ? text.substring(0, 200) + "..." : text;
    }

    /** Delivers at most one end or failure, and nothing after it. */
    private static final class OnceListener implements Listener {
        private final Listener delegate;
        private final AtomicBoolean done = new AtomicBoolean();

        OnceListener(Listener delegate) {
            this.delegate = delegate;
        }

        @Override
        public synchronized void output(String text) {
            if (!done.get()) {
                delegate.output(text);
            }
        }

        @Override
        public synchronized void end(String why) {
            if (done.compareAndSet(false, true)) {
                delegate.end(why);
            }
        }

        @Override
        public synchronized void failure(ApiException problem) {
            if (done.compareAndSet(false, true)) {
                delegate.failure(problem);
            }
        }
    }
}
