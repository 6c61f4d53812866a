package dev.flotilla.controlplane.ui;

import io.agroal.api.AgroalDataSource;
import io.quarkus.runtime.ShutdownEvent;
import io.quarkus.scheduler.Scheduled;
import jakarta.enterprise.event.Observes;
import jakarta.inject.Inject;
import jakarta.inject.Singleton;
import jakarta.ws.rs.GET;
import jakarta.ws.rs.Path;
import jakarta.ws.rs.Produces;
import jakarta.ws.rs.core.Context;
import jakarta.ws.rs.core.MediaType;
import jakarta.ws.rs.sse.Sse;
import jakarta.ws.rs.sse.SseEventSink;
import org.jboss.logging.Logger;

import java.sql.Connection;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Statement;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.Objects;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;

/**
 * Pushes "something changed" to open dashboards over server-sent events. Once per {@code flotilla.ui.live-interval},
 * while at least one browser listens, one query fingerprints sandboxes, nodes, density samples and boot times; each
 * part that changed is sent as a named event (sandboxes, nodes, density, boot) and the browser re-fetches only the
 * fragments and charts that show it. Watching the database rather than in-process calls also sees changes made by
 * other replicas.
 */
@Path("/ui/events")
@Singleton
public class LiveUpdates {
    private static final Logger LOG = Logger.getLogger(LiveUpdates.class);
    /** A comment-free "ping" keeps idle proxies from closing the stream and finds closed browsers. */
    private static final long PING_NANOS = 20_000_000_000L;

    @Inject
    AgroalDataSource dataSource;

    private final Set<Listener> listeners = ConcurrentHashMap.newKeySet();
    private volatile Map<String, String> last = Map.of();
    private volatile long lastSentNanos = System.nanoTime();

    private record Listener(SseEventSink sink, Sse sse) {
    }

    @GET
    @Produces(MediaType.SERVER_SENT_EVENTS)
    public void subscribe(@Context SseEventSink sink, @Context Sse sse) {
        Listener listener = new Listener(sink, sse);
        listeners.add(listener);
        send(listener, "hello", "connected");
    }

    int listenerCount() {
        return listeners.size();
    }

    @Scheduled(every = "${flotilla.ui.live-interval:1s}", concurrentExecution = Scheduled.ConcurrentExecution.SKIP)
    void check() {
        listeners.removeIf(listener -> listener.sink().isClosed());
        if (listeners.isEmpty()) {
            last = Map.of();
            return;
        }
        Map<String, String> now;
        try {
            now = fingerprint();
        } catch (SQLException e) {
            LOG.warnf("checking the fleet for dashboard updates failed: %s", e.getMessage());
            return;
        }
        Map<String, String> previous = last;
        last = now;
        boolean sent = false;
        for (Map.Entry<String, String> part : now.entrySet()) {
            if (!previous.isEmpty() && !Objects.equals(previous.get(part.getKey()), part.getValue())) {
                broadcast(part.getKey());
                sent = true;
            }
        }
        if (!sent && System.nanoTime() - lastSentNanos > PING_NANOS) {
            broadcast("ping");
        }
    }

    private Map<String, String> fingerprint() throws SQLException {
        try (Connection connection = dataSource.getConnection(); Statement statement = connection.createStatement();
             ResultSet row = statement.executeQuery("""
                     SELECT (SELECT count(*) FROM sandbox)::text || '/' || (SELECT coalesce(max(id), 0) FROM sandbox_event),
                            (SELECT count(*) || '/' || coalesce(max(last_heartbeat_at)::text, '') || '/'
                                    || coalesce(sum(alloc_vms), 0) || '/' || coalesce(sum(used_vms), 0) || '/'
                                    || coalesce(sum(used_memory_mib), 0) || '/' || count(*) FILTER (WHERE cordoned) || '/'
                                    || count(*) FILTER (WHERE state = 'READY') FROM node),
                            (SELECT coalesce(max(at)::text, '') FROM node_sample),
                            (SELECT coalesce(max(at)::text, '') FROM boot_time_sample)""")) {
            row.next();
            Map<String, String> parts = new LinkedHashMap<>();
            parts.put("sandboxes", row.getString(1));
            parts.put("nodes", row.getString(2));
            parts.put("density", row.getString(3));
            parts.put("boot", row.getString(4));
            return parts;
        }
    }

    private void broadcast(String name) {
        lastSentNanos = System.nanoTime();
        for (Listener listener : listeners) {
            send(listener, name, "changed");
        }
    }

    private void send(Listener listener, String name, String data) {
        if (listener.sink().isClosed()) {
            listeners.remove(listener);
            return;
        }
        listener.sink().send(listener.sse().newEventBuilder().name(name).data(data).build())
                .whenComplete((ignored, failure) -> {
                    if (failure != null) {
                        listeners.remove(listener);
                        listener.sink().close();
                    }
                });
    }

    void onStop(@Observes ShutdownEvent event) {
        for (Listener listener : listeners) {
            listener.sink().close();
        }
        listeners.clear();
    }
}
