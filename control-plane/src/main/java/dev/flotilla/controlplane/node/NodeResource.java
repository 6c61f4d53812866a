package dev.flotilla.controlplane.node;

import dev.flotilla.controlplane.api.ApiException;
import dev.flotilla.contract.v1.ContractVersion;
import dev.flotilla.contract.v1.Heartbeat;
import dev.flotilla.contract.v1.HeartbeatAck;
import dev.flotilla.contract.v1.NodeRegistration;
import dev.flotilla.contract.v1.NodeRegistrationAccepted;
import dev.flotilla.controlplane.auth.BearerAuthFilter;
import dev.flotilla.controlplane.auth.Caller;
import dev.flotilla.controlplane.config.FlotillaConfig;
import jakarta.validation.constraints.NotNull;
import jakarta.ws.rs.HeaderParam;
import jakarta.ws.rs.container.ContainerRequestContext;
import jakarta.ws.rs.core.Context;
import dev.flotilla.controlplane.api.Labels;
import dev.flotilla.controlplane.api.Page;
import dev.flotilla.controlplane.auth.Requires;
import dev.flotilla.controlplane.auth.Scope;
import dev.flotilla.controlplane.placement.PlacementEngine;
import dev.flotilla.controlplane.reconcile.Reconciler;
import com.fasterxml.jackson.databind.ObjectMapper;
import jakarta.inject.Inject;
import jakarta.persistence.EntityManager;
import jakarta.validation.constraints.Max;
import jakarta.validation.constraints.Min;
import jakarta.ws.rs.DefaultValue;
import jakarta.ws.rs.GET;
import jakarta.ws.rs.POST;
import jakarta.ws.rs.Path;
import jakarta.ws.rs.PathParam;
import jakarta.ws.rs.Produces;
import jakarta.ws.rs.QueryParam;
import jakarta.ws.rs.core.MediaType;
import org.eclipse.microprofile.openapi.annotations.Operation;
import org.eclipse.microprofile.openapi.annotations.tags.Tag;

import java.nio.charset.StandardCharsets;
import java.util.Base64;
import java.util.List;
import java.util.Map;
import java.util.UUID;

/**
 * Nodes: read, cordon, drain for users; registration and heartbeats for node agents (paths in
 * {@link dev.flotilla.contract.v1.ControlPlanePaths}).
 */
@Path("/api/v1/nodes")
@Produces(MediaType.APPLICATION_JSON)
@Tag(name = "nodes")
@Requires(Scope.READ)
public class NodeResource {
    @Inject
    NodeService nodes;
    @Inject
    PlacementEngine placement;
    @Inject
    Reconciler reconciler;
    @Inject
    EntityManager entityManager;
    @Inject
    ObjectMapper json;
    @Inject
    FlotillaConfig config;

    @GET
    @Operation(summary = "List nodes by name, filtered by labels (all must match) and state (READY, UNHEALTHY)")
    public Page<NodeView> list(@QueryParam("label") List<String> labels, @QueryParam("state") String state,
                               @QueryParam("limit") @DefaultValue("50") @Min(1) @Max(1000) int limit,
                               @QueryParam("cursor") String cursor) throws Exception {
        if (state != null && !state.equals(NodeEntity.READY) && !state.equals(NodeEntity.UNHEALTHY)) {
            throw ApiException.badRequest("state", "must be READY or UNHEALTHY, got '" + state + "'");
        }
        Map<String, String> selector = Labels.parseSelector(labels == null ? List.of() : labels);
        StringBuilder sql = new StringBuilder("SELECT * FROM node WHERE name > :after");
        if (!selector.isEmpty()) {
            sql.append(" AND labels @> CAST(:selector AS jsonb)");
        }
        if (state != null) {
            sql.append(" AND state = :state");
        }
        sql.append(" ORDER BY name LIMIT :limit");
        var query = entityManager.createNativeQuery(sql.toString(), NodeEntity.class)
                .setParameter("after", decode(cursor)).setParameter("limit", limit + 1);
        if (!selector.isEmpty()) {
            query.setParameter("selector", json.writeValueAsString(selector));
        }
        if (state != null) {
            query.setParameter("state", state);
        }
        @SuppressWarnings("unchecked")
        List<NodeEntity> rows = query.getResultList();
        List<NodeView> items = rows.stream().limit(limit).map(NodeView::of).toList();
        return new Page<>(items, rows.size() > limit ? encode(rows.get(limit - 1).name) : null);
    }

    @GET
    @Path("/{ref}")
    @Operation(summary = "One node, by id or name")
    public NodeView get(@PathParam("ref") String reference) {
        return NodeView.of(nodes.find(reference));
    }

    @POST
    @Path("/{ref}/cordon")
    @Requires(Scope.WRITE)
    @Operation(summary = "Stop placing new sandboxes on the node")
    public NodeView cordon(@PathParam("ref") String reference) {
        NodeEntity node = nodes.setCordoned(reference, true);
        placement.nodeChanged(node.id);
        return NodeView.of(node);
    }

    @POST
    @Path("/{ref}/uncordon")
    @Requires(Scope.WRITE)
    @Operation(summary = "Place new sandboxes on the node again")
    public NodeView uncordon(@PathParam("ref") String reference) {
        NodeEntity node = nodes.setCordoned(reference, false);
        placement.nodeChanged(node.id);
        return NodeView.of(node);
    }

    @POST
    @Path("/{ref}/drain")
    @Requires(Scope.WRITE)
    @Operation(summary = "Cordon the node and move its sandboxes elsewhere (NEVER-restart ones fail)")
    public NodeView drain(@PathParam("ref") String reference) {
        NodeService.Drained drained = nodes.drain(reference);
        placement.nodeChanged(drained.nodeId());
        reconciler.placeAgain(drained.toPlace());
        return NodeView.of(nodes.find(reference));
    }

    private static String encode(String name) {
        return Base64.getUrlEncoder().withoutPadding().encodeToString(("n" + name).getBytes(StandardCharsets.UTF_8));
    }

    private static String decode(String cursor) {
        if (cursor == null || cursor.isEmpty()) {
            return "";
        }
        try {
            String text = new String(Base64.getUrlDecoder().decode(cursor), StandardCharsets.UTF_8);
            if (text.startsWith("n")) {
                return text.substring(1);
            }
        } catch (IllegalArgumentException ignored) {
            // reported below
        }
        throw ApiException.badRequest("cursor", "is not a cursor returned by this API");
    }

    // --- The node-agent side of the contract (dev.flotilla.contract.v1.ControlPlanePaths) ---

    @POST
    @Path("/register")
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
    @Path("/{nodeId}/heartbeat")
    @Requires(Scope.NODE)
    @Operation(summary = "A node's periodic report (node token of that node only)")
    public HeartbeatAck heartbeat(@PathParam("nodeId") UUID nodeId, @NotNull Heartbeat heartbeat,
                                  @HeaderParam(ContractVersion.HEADER) String version, @Context ContainerRequestContext request) {
        checkVersion(version);
        Caller caller = (Caller) request.getProperty(BearerAuthFilter.CALLER_PROPERTY);
        if (!nodeId.equals(caller.nodeId())) {
            throw new ApiException(403, "Forbidden", "a node token may only send heartbeats for its own node");
        }
        NodeService.HeartbeatOutcome outcome = nodes.heartbeat(nodeId, caller.tokenHash(), heartbeat);
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
