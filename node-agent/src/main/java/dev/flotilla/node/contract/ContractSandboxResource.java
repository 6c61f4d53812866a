package dev.flotilla.node.contract;

import dev.flotilla.contract.v1.ContractVersion;
import dev.flotilla.contract.v1.NodeAgentPaths;
import dev.flotilla.contract.v1.SandboxLaunch;
import dev.flotilla.contract.v1.SandboxList;
import dev.flotilla.contract.v1.SandboxStatus;
import dev.flotilla.node.api.ApiException;
import dev.flotilla.node.config.NodeConfig;
import dev.flotilla.node.sandbox.Sandbox;
import dev.flotilla.node.sandbox.SandboxManager;
import dev.flotilla.node.sandbox.SandboxRecord;
import dev.flotilla.node.sandbox.SandboxSpec;
import dev.flotilla.node.sandbox.SandboxValidator;
import jakarta.inject.Inject;
import jakarta.ws.rs.Consumes;
import jakarta.ws.rs.DELETE;
import jakarta.ws.rs.GET;
import jakarta.ws.rs.HeaderParam;
import jakarta.ws.rs.POST;
import jakarta.ws.rs.PUT;
import jakarta.ws.rs.Path;
import jakarta.ws.rs.PathParam;
import jakarta.ws.rs.Produces;
import jakarta.ws.rs.core.MediaType;
import jakarta.ws.rs.core.Response;
import org.eclipse.microprofile.openapi.annotations.Operation;
import org.eclipse.microprofile.openapi.annotations.security.SecurityRequirement;
import org.eclipse.microprofile.openapi.annotations.tags.Tag;

/**
 * The sandbox API of contract v1 ({@link NodeAgentPaths}), which the control plane calls. Every call is
 * idempotent, as the contract requires: the control plane retries.
 */
@Path(NodeAgentPaths.SANDBOXES)
@Produces(MediaType.APPLICATION_JSON)
@Tag(name = "contract v1")
@SecurityRequirement(name = "bearer")
public class ContractSandboxResource {
    @Inject
    SandboxManager sandboxes;
    @Inject
    NodeConfig config;

    @PUT
    @Path("/{sandboxId}")
    @Consumes(MediaType.APPLICATION_JSON)
    @Operation(summary = "Create and start the sandbox unless it exists (201 created, 200 existed)")
    public Response launch(@PathParam("sandboxId") String sandboxId, @HeaderParam(ContractVersion.HEADER) String version,
                           SandboxLaunch launch) {
        checkVersion(version);
        SandboxSpec spec = SandboxValidator.fromLaunch(sandboxId, launch, config.network().enabled());
        SandboxManager.Launched launched = sandboxes.launch(spec);
        return Response.status(launched.created() ? 201 : 200).header(ContractVersion.HEADER, ContractVersion.CURRENT)
                .entity(status(launched.sandbox())).build();
    }

    @POST
    @Path("/{sandboxId}/stop")
    @Operation(summary = "Stop the sandbox; 404 when unknown")
    public SandboxStatus stop(@PathParam("sandboxId") String sandboxId, @HeaderParam(ContractVersion.HEADER) String version) {
        checkVersion(version);
        if (sandboxes.find(sandboxId).isEmpty()) {
            throw ApiException.notFound("sandbox " + sandboxId);
        }
        return status(sandboxes.stop(sandboxId));
    }

    @DELETE
    @Path("/{sandboxId}")
    @Operation(summary = "Stop and remove the sandbox; 204 also when unknown")
    public Response delete(@PathParam("sandboxId") String sandboxId, @HeaderParam(ContractVersion.HEADER) String version) {
        checkVersion(version);
        sandboxes.delete(sandboxId);
        return Response.noContent().build();
    }

    @GET
    @Path("/{sandboxId}")
    public SandboxStatus get(@PathParam("sandboxId") String sandboxId) {
        return status(sandboxes.get(sandboxId));
    }

    @GET
    public SandboxList list() {
        return new SandboxList(sandboxes.list().stream().map(ContractSandboxResource::status).toList());
    }

    static SandboxStatus status(Sandbox sandbox) {
        SandboxRecord r = sandbox.toRecord();
        return new SandboxStatus(r.spec().id(), r.state(), r.spec().generation(), r.bootTimeMillis(), r.message());
    }

    /** A peer speaking another contract version would misread our answers: refuse it plainly. */
    private static void checkVersion(String version) {
        if (version != null && !version.equals(ContractVersion.CURRENT)) {
            throw new ApiException(400, "this node agent speaks contract " + ContractVersion.CURRENT + ", the caller sent "
                    + ContractVersion.HEADER + ": " + version);
        }
    }
}
