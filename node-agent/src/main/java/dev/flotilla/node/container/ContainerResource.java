package dev.flotilla.node.container;

import dev.flotilla.node.api.ApiException;
import dev.flotilla.node.sandbox.SandboxManager;
import jakarta.inject.Inject;
import jakarta.ws.rs.GET;
import jakarta.ws.rs.POST;
import jakarta.ws.rs.Path;
import jakarta.ws.rs.PathParam;
import jakarta.ws.rs.Produces;
import jakarta.ws.rs.core.MediaType;
import org.eclipse.microprofile.openapi.annotations.Operation;
import org.eclipse.microprofile.openapi.annotations.security.SecurityRequirement;
import org.eclipse.microprofile.openapi.annotations.tags.Tag;

/**
 * Containers in a sandbox: create, start, exec, logs, signal. Routed and documented now so clients see the
 * final shape; each answers 404 for an unknown sandbox, else 501 with {@link ContainerRuntime#unavailableReason()}
 * until a runtime that {@link ContainerRuntime#available() is available} replaces the default one.
 */
@Path("/api/v1/sandboxes/{ref}/containers")
@Produces(MediaType.APPLICATION_JSON)
@Tag(name = "containers")
@SecurityRequirement(name = "bearer")
public class ContainerResource {
    @Inject
    SandboxManager sandboxes;
    @Inject
    ContainerRuntime runtime;

    @GET
    @Operation(summary = "List the sandbox's containers (501 until the container runtime is present)")
    public Object list(@PathParam("ref") String ref) {
        return unavailable(ref, "list containers");
    }

    @POST
    @Operation(summary = "Create a container (501 until the container runtime is present)")
    public Object create(@PathParam("ref") String ref) {
        return unavailable(ref, "create a container");
    }

    @POST
    @Path("/{container}/start")
    @Operation(summary = "Start a container (501 until the container runtime is present)")
    public Object start(@PathParam("ref") String ref, @PathParam("container") String container) {
        return unavailable(ref, "start container " + container);
    }

    @POST
    @Path("/{container}/signal")
    @Operation(summary = "Signal a container (501 until the container runtime is present)")
    public Object signal(@PathParam("ref") String ref, @PathParam("container") String container) {
        return unavailable(ref, "signal container " + container);
    }

    @GET
    @Path("/{container}/logs")
    @Operation(summary = "A container's logs, ?follow=true streams (501 until the container runtime is present)")
    public Object logs(@PathParam("ref") String ref, @PathParam("container") String container) {
        return unavailable(ref, "read the logs of container " + container);
    }

    @POST
    @Path("/{container}/exec")
    @Operation(summary = "Exec in a container; interactive exec is a WebSocket (501 until the container runtime is present)")
    public Object exec(@PathParam("ref") String ref, @PathParam("container") String container) {
        return unavailable(ref, "exec in container " + container);
    }

    private Object unavailable(String ref, String what) {
        sandboxes.get(ref); // 404 first: an unknown sandbox is the caller's mistake whatever the runtime
        if (!runtime.available()) {
            throw new ApiException(501, "cannot " + what + " in sandbox " + ref + ": " + runtime.unavailableReason());
        }
        throw new ApiException(501, "the container runtime does not serve " + what + " through this endpoint yet");
    }
}
