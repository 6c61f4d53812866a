package dev.flotilla.controlplane.ui;

import dev.flotilla.controlplane.api.ApiException;
import dev.flotilla.controlplane.logs.LogEvents;
import dev.flotilla.controlplane.logs.SandboxLogs;
import io.smallrye.common.annotation.Blocking;
import io.smallrye.mutiny.Multi;
import jakarta.inject.Inject;
import jakarta.ws.rs.GET;
import jakarta.ws.rs.Path;
import jakarta.ws.rs.PathParam;
import jakarta.ws.rs.Produces;
import jakarta.ws.rs.QueryParam;
import jakarta.ws.rs.core.Context;
import jakarta.ws.rs.core.MediaType;
import jakarta.ws.rs.sse.OutboundSseEvent;
import jakarta.ws.rs.sse.Sse;

/**
 * The sandbox page's live console and logs: the same relay as {@code /api/v1/sandboxes/{ref}/logs/stream}, signed
 * in by the dashboard session. A browser's EventSource cannot read an error status, so every refusal (unknown
 * sandbox, not on a node, node agent unreachable) is sent as a {@code failure} event the page shows in words.
 */
@Path("/ui/sandboxes/{ref}/logs/stream")
@Blocking
public class SandboxLogStream {
    @Inject
    SandboxLogs logs;
    @Inject
    LogEvents events;

    @GET
    @Produces(MediaType.SERVER_SENT_EVENTS)
    public Multi<OutboundSseEvent> stream(@PathParam("ref") String ref, @QueryParam("container") String container,
                                          @Context Sse sse) {
        try {
            String checked = LogEvents.container(container);
            return events.stream(sse, logs.resolve(ref), checked);
        } catch (ApiException e) {
            return events.failed(sse, e);
        }
    }
}
