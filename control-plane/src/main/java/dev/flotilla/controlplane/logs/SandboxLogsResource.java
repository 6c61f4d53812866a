package dev.flotilla.controlplane.logs;

import dev.flotilla.controlplane.auth.Requires;
import dev.flotilla.controlplane.auth.Scope;
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
import org.eclipse.microprofile.openapi.annotations.Operation;
import org.eclipse.microprofile.openapi.annotations.tags.Tag;

/**
 * A sandbox's serial console or container logs, relayed from its node agent. The sandbox and its node are checked
 * before anything is sent, so a stream that cannot start answers with a status and a problem body like every call.
 */
@Path("/api/v1/sandboxes/{ref}/logs")
@Tag(name = "sandboxes")
@Requires(Scope.READ)
@Blocking
public class SandboxLogsResource {
    @Inject
    SandboxLogs logs;
    @Inject
    LogEvents events;

    @GET
    @Produces(MediaType.TEXT_PLAIN)
    @Operation(summary = "The sandbox's retained output from its node: the serial console, or ?container=NAME's logs",
            description = "404 unknown sandbox; 409 on no node, or its node does not have it (yet); "
                    + "502 the node agent could not be reached or failed; 503 the node cannot be called.")
    public String snapshot(@PathParam("ref") String ref, @QueryParam("container") String container) {
        String checked = LogEvents.container(container);
        return logs.snapshot(logs.resolve(ref), checked);
    }

    @GET
    @Path("/stream")
    @Produces(MediaType.SERVER_SENT_EVENTS)
    @Operation(summary = "Live output as server-sent events (ready, output..., then end or failure)",
            description = "The serial console (retained output first) or, with ?container=NAME, that container's logs "
                    + "until it exits. Event data is JSON; output events carry a string of text.")
    public Multi<OutboundSseEvent> stream(@PathParam("ref") String ref, @QueryParam("container") String container,
                                          @Context Sse sse) {
        String checked = LogEvents.container(container);
        SandboxLogs.Target target = logs.resolve(ref);
        // Reach the agent once before answering 200, so an unreachable node is a 502 rather than an event.
        logs.snapshot(target, checked);
        return events.stream(sse, target, checked);
    }
}
