package dev.flotilla.node.sandbox;

import dev.flotilla.contract.v1.VmState;
import dev.flotilla.node.api.ApiException;
import dev.flotilla.node.api.FieldError;
import dev.flotilla.node.config.NodeConfig;
import jakarta.inject.Inject;
import jakarta.ws.rs.Consumes;
import jakarta.ws.rs.DELETE;
import jakarta.ws.rs.GET;
import jakarta.ws.rs.POST;
import jakarta.ws.rs.Path;
import jakarta.ws.rs.PathParam;
import jakarta.ws.rs.Produces;
import jakarta.ws.rs.QueryParam;
import jakarta.ws.rs.core.MediaType;
import jakarta.ws.rs.core.Response;
import org.eclipse.microprofile.openapi.annotations.Operation;
import org.eclipse.microprofile.openapi.annotations.security.SecurityRequirement;
import org.eclipse.microprofile.openapi.annotations.tags.Tag;

import java.util.List;

/** The node's own sandbox API (for people, the CLI and the density benchmark); the control plane uses /v1. */
@Path("/api/v1/sandboxes")
@Produces(MediaType.APPLICATION_JSON)
@Tag(name = "sandboxes")
@SecurityRequirement(name = "bearer")
public class SandboxResource {
    @Inject
    SandboxManager sandboxes;
    @Inject
    NodeConfig config;

    @POST
    @Consumes(MediaType.APPLICATION_JSON)
    @Operation(summary = "Create and start a sandbox (a microVM)",
            description = "201 with the sandbox (state STARTING or RUNNING, or FAILED with the reason); 400 for invalid fields, "
                    + "409 when it does not fit the free capacity or the name is taken, 422 when it can never fit or its guest cannot run here, "
                    + "501 for images until the container runtime is part of the agent.")
    public Response create(CreateSandboxRequest request) {
        SandboxSpec spec = SandboxValidator.fromRequest(request, config.network().enabled(), config.network().enabled());
        SandboxManager.Launched launched = sandboxes.launch(spec);
        return Response.status(201).entity(SandboxView.of(launched.sandbox())).build();
    }

    @GET
    @Operation(summary = "List sandboxes, oldest first", description = "Optional filters: state, label=key=value (repeatable, all must match).")
    public SandboxView.Page list(@QueryParam("state") String state, @QueryParam("label") List<String> labels) {
        VmState wanted = null;
        if (state != null) {
            try {
                wanted = VmState.valueOf(state);
            } catch (IllegalArgumentException e) {
                throw ApiException.invalid(List.of(new FieldError("state", "must be one of STARTING, RUNNING, STOPPING, STOPPED, FAILED")));
            }
        }
        for (String l : labels) {
            if (!l.contains("=")) {
                throw ApiException.invalid(List.of(new FieldError("label", "must be key=value, not '" + l + "'")));
            }
        }
        VmState filter = wanted;
        List<SandboxView> views = sandboxes.list().stream()
                .filter(s -> filter == null || s.state() == filter)
                .filter(s -> labels.stream().allMatch(l -> {
                    String[] kv = l.split("=", 2);
                    return kv[1].equals(s.spec().labels().get(kv[0]));
                }))
                .map(SandboxView::of).toList();
        return new SandboxView.Page(views, views.size());
    }

    @GET
    @Path("/{ref}")
    @Operation(summary = "One sandbox, by id or name")
    public SandboxView get(@PathParam("ref") String ref) {
        return SandboxView.of(sandboxes.get(ref));
    }

    @POST
    @Path("/{ref}/stop")
    @Operation(summary = "Stop a sandbox's VM; its record stays (state STOPPED) until deleted")
    public SandboxView stop(@PathParam("ref") String ref) {
        return SandboxView.of(sandboxes.stop(ref));
    }

    @DELETE
    @Path("/{ref}")
    @Operation(summary = "Stop and remove a sandbox", description = "204; 404 when there is no such sandbox.")
    public Response delete(@PathParam("ref") String ref) {
        if (!sandboxes.delete(ref)) {
            throw ApiException.notFound("sandbox " + ref);
        }
        return Response.noContent().build();
    }

    @GET
    @Path("/{ref}/console")
    @Produces(MediaType.TEXT_PLAIN)
    @Operation(summary = "The retained serial console output (last 64 KiB)",
            description = "Live: WebSocket /api/v1/sandboxes/{ref}/console/ws (binary frames out, text or binary frames in).")
    public byte[] console(@PathParam("ref") String ref) {
        return sandboxes.get(ref).console().snapshot();
    }
}
