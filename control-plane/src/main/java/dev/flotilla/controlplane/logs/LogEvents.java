package dev.flotilla.controlplane.logs;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.flotilla.controlplane.api.ApiException;
import io.smallrye.mutiny.Multi;
import jakarta.inject.Inject;
import jakarta.inject.Singleton;
import jakarta.ws.rs.core.MediaType;
import jakarta.ws.rs.sse.OutboundSseEvent;
import jakarta.ws.rs.sse.Sse;

import java.util.LinkedHashMap;
import java.util.Map;
import java.util.regex.Pattern;

/**
 * A live log stream as server-sent events, for the API and the dashboard alike. Every event's data is JSON:
 * {@code ready} {sandbox, node, source} first, then {@code output} (a string of text), and at most one of
 * {@code end} (a string: why) or {@code failure} ({status, title, detail}), after which the stream closes.
 * Not "open" nor "error": a browser's EventSource uses those names for its own connection events.
 */
@Singleton
public class LogEvents {
    /** Container ids as the node agent accepts them. */
    private static final Pattern CONTAINER = Pattern.compile("[A-Za-z0-9_.-]{1,63}");

    @Inject
    SandboxLogs logs;
    @Inject
    ObjectMapper json;

    /** Null for the serial console; refuses a container id the agent would refuse (400). */
    public static String container(String container) {
        if (container == null || container.isBlank()) {
            return null;
        }
        if (!CONTAINER.matcher(container).matches()) {
            throw ApiException.badRequest("container", "must be 1 to 63 letters, digits, '_', '.' or '-'");
        }
        return container;
    }

    /** The stream of an already resolved sandbox; nothing is read from the agent until a subscriber comes. */
    public Multi<OutboundSseEvent> stream(Sse sse, SandboxLogs.Target target, String container) {
        return Multi.createFrom().emitter(emitter -> {
            Map<String, String> open = new LinkedHashMap<>();
            open.put("sandbox", target.sandboxName());
            open.put("node", target.nodeName());
            open.put("source", container == null ? "console" : "container " + container);
            emitter.emit(event(sse, "ready", open));
            Runnable close = logs.stream(target, container, new SandboxLogs.Listener() {
                @Override
                public void output(String text) {
                    emitter.emit(event(sse, "output", text));
                }

                @Override
                public void end(String why) {
                    emitter.emit(event(sse, "end", why));
                    emitter.complete();
                }

                @Override
                public void failure(ApiException problem) {
                    emitter.emit(failureEvent(sse, problem));
                    emitter.complete();
                }
            });
            emitter.onTermination(close);
        });
    }

    /** A stream of one failure: the dashboard shows it instead of a status code its EventSource cannot read. */
    public Multi<OutboundSseEvent> failed(Sse sse, ApiException problem) {
        return Multi.createFrom().item(failureEvent(sse, problem));
    }

    private OutboundSseEvent failureEvent(Sse sse, ApiException problem) {
        Map<String, Object> body = new LinkedHashMap<>();
        body.put("status", problem.status());
        body.put("title", problem.title());
        body.put("detail", problem.getMessage());
        return event(sse, "failure", body);
    }

    private OutboundSseEvent event(Sse sse, String name, Object data) {
        try {
            return sse.newEventBuilder().name(name).mediaType(MediaType.TEXT_PLAIN_TYPE)
                    .data(String.class, json.writeValueAsString(data)).build();
        } catch (JsonProcessingException e) {
            throw new IllegalStateException("could not write a log event", e);
        }
    }
}
