package dev.flotilla.controlplane.ui;

import dev.flotilla.controlplane.node.NodeEntity;
import dev.flotilla.controlplane.node.NodeResource;
import dev.flotilla.controlplane.node.NodeView;
import io.quarkus.qute.Location;
import io.quarkus.qute.Template;
import io.quarkus.qute.TemplateInstance;
import jakarta.inject.Inject;
import jakarta.ws.rs.GET;
import jakarta.ws.rs.POST;
import jakarta.ws.rs.Path;
import jakarta.ws.rs.PathParam;
import jakarta.ws.rs.Produces;
import jakarta.ws.rs.QueryParam;
import jakarta.ws.rs.container.ContainerRequestContext;
import jakarta.ws.rs.core.Context;
import jakarta.ws.rs.core.MediaType;
import jakarta.ws.rs.core.Response;

import java.net.URI;
import java.time.Instant;
import java.util.List;

/** Nodes: labels, taints, KVM kind, health and capacity; cordon, uncordon and drain for admins. */
@Path("/ui/nodes")
@Produces(MediaType.TEXT_HTML)
public class NodePages {
    @Inject
    UiQueries queries;
    @Inject
    NodeResource api;
    @Inject
    @Location("ui/nodes.html")
    Template nodes;
    @Inject
    @Location("ui/nodes-table.html")
    Template table;

    @GET
    public TemplateInstance list(@QueryParam("after") String after, @Context ContainerRequestContext request) {
        return nodes.data("page", page(UiAuthFilter.session(request), after, null, true));
    }

    @GET
    @Path("/table")
    public TemplateInstance table(@QueryParam("after") String after, @Context ContainerRequestContext request) {
        return table.data("page", page(UiAuthFilter.session(request), after, null, false));
    }

    @POST
    @Path("/{name}/{action:cordon|uncordon|drain}")
    public Response act(@PathParam("name") String name, @PathParam("action") String action,
                        @Context ContainerRequestContext request) {
        UiSession session = UiAuthFilter.session(request);
        if (!session.canWrite()) {
            return forbidden(session);
        }
        try {
            NodeView node = switch (action) {
                case "cordon" -> api.cordon(name);
                case "uncordon" -> api.uncordon(name);
                default -> api.drain(name);
            };
            session.notice(switch (action) {
                case "cordon" -> "Node " + node.name() + " is cordoned: no new sandboxes are placed on it.";
                case "uncordon" -> "Node " + node.name() + " takes new sandboxes again.";
                default -> "Node " + node.name() + " is drained: it is cordoned and its sandboxes are being moved.";
            });
            return Response.seeOther(URI.create("/ui/nodes")).build();
        } catch (RuntimeException e) {
            UiProblem problem = UiProblem.from(e);
            return Response.status(problem.status()).type(MediaType.TEXT_HTML_TYPE)
                    .entity(nodes.data("page", page(session, null, problem, true)).render()).build();
        }
    }

    private Response forbidden(UiSession session) {
        UiProblem problem = UiProblem.of(403, "Forbidden",
                "the read-only token lacks the WRITE scope that cordoning and draining nodes need");
        return Response.status(403).type(MediaType.TEXT_HTML_TYPE)
                .entity(nodes.data("page", page(session, null, problem, true)).render()).build();
    }

    private NodesPage page(UiSession session, String after, UiProblem problem, boolean fullPage) {
        Instant now = Instant.now();
        List<NodeEntity> rows = queries.nodes(after, UiQueries.PAGE_SIZE + 1);
        String next = rows.size() > UiQueries.PAGE_SIZE ? rows.get(UiQueries.PAGE_SIZE - 1).name : null;
        List<NodeRow> shown = rows.stream().limit(UiQueries.PAGE_SIZE).map(n -> NodeRow.of(n, now)).toList();
        Layout layout = fullPage ? Layout.of("Nodes", "nodes", session) : Layout.fragment("nodes", session);
        return new NodesPage(layout, shown, next, problem);
    }
}
