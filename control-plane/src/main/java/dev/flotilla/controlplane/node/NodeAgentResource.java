package dev.flotilla.controlplane.node;

import dev.flotilla.contract.v1.ContractVersion;
import dev.flotilla.contract.v1.ControlPlanePaths;
import dev.flotilla.contract.v1.Heartbeat;
import dev.flotilla.contract.v1.HeartbeatAck;
import dev.flotilla.contract.v1.NodeRegistration;
import dev.flotilla.contract.v1.NodeRegistrationAccepted;
import dev.flotilla.controlplane.api.ApiException;
import dev.flotilla.controlplane.auth.BearerAuthFilter;
import dev.flotilla.controlplane.auth.Caller;
import dev.flotilla.controlplane.auth.Requires;
import dev.flotilla.controlplane.auth.Scope;
import dev.flotilla.controlplane.config.FlotillaConfig;
import dev.flotilla.controlplane.placement.PlacementEngine;
import dev.flotilla.controlplane.reconcile.Reconciler;
import jakarta.inject.Inject;
import jakarta.validation.constraints.NotNull;
import jakarta.ws.rs.HeaderParam;
import jakarta.ws.rs.POST;
import jakarta.ws.rs.Path;
import jakarta.ws.rs.PathParam;
import jakarta.ws.rs.Produces;
import jakarta.ws.rs.container.ContainerRequestContext;
import jakarta.ws.rs.core.Context;
import jakarta.ws.rs.core.MediaType;
import org.eclipse.microprofile.openapi.annotations.Operation;
import org.eclipse.microprofile.openapi.annotations.tags.Tag;

import java.util.UUID;

/** The node-agent side of the contract (dev.flotilla.contract.v1): registration and heartbeats. */
@Path("")
@Produces(MediaType.APPLICATION_JSON)
@Tag(name = "node agents")
public class NodeAgentResource {
    @Inject
    NodeService nodes;
    @Inject
    PlacementEngine placement;
    @Inject
    Reconciler reconciler;
    @Inject
    FlotillaConfig config;

    @POST
    @Path(ControlPlanePaths.REGISTER)
    @Requires(Scope.NODE_REGISTER)
    @Operation(summary = "Register a node (join token); a known name re-attaches to its existing record")
    public NodeRegistrationAccepted register(@NotNull NodeRegistration registration,
                                             @HeaderParam(ContractVersion.HEADER) String version) {
        checkVersion(version);
        NodeService.Registered registered = nodes.register(registration);
        placement.nodeChanged(registered.node().id);
        return new NodeRegistrationAccepted(registered.node().id.toString(), registered.token(),
                (int) config.nodes().heartbeatInterval().toSeconds(), (int) config.nodes().heartbeatTimeout().toSeconds(),
                ContractVersion.CURRENT);
    }

    @POST
    @Path(ControlPlanePaths.HEARTBEAT)
    @Requires(Scope.NODE)
    @Operation(summary = "A node's periodic report (node token of that node only)")
    public HeartbeatAck heartbeat(@PathParam("nodeId") UUID nodeId, @NotNull Heartbeat heartbeat,
                                  @HeaderParam(ContractVersion.HEADER) String version, @Context ContainerRequestContext request) {
        checkVersion(version);
        Caller caller = (Caller) request.getProperty(BearerAuthFilter.CALLER_PROPERTY);
        if (!nodeId.equals(caller.nodeId())) {
            throw new ApiException(403, "Forbidden", "a node token may only send heartbeats for its own node");
        }
        NodeService.HeartbeatOutcome outcome = nodes.heartbeat(nodeId, heartbeat);
        if (outcome.changed()) {
            placement.nodeChanged(nodeId);
        }
        for (String orphan : outcome.orphans()) {
            reconciler.removeOrphan(outcome.node(), orphan);
        }
        return new HeartbeatAck((int) config.nodes().heartbeatInterval().toSeconds(), outcome.node().state,
                outcome.node().cordoned);
    }

    private static void checkVersion(String version) {
        if (version != null && !version.equals(ContractVersion.CURRENT)) {
            throw new ApiException(400, "Bad Request", "this control plane speaks contract " + ContractVersion.CURRENT
                    + " but the agent sent " + ContractVersion.HEADER + ": " + version);
        }
    }
}
