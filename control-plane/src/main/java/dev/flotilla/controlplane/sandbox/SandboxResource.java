package dev.flotilla.controlplane.sandbox;

import dev.flotilla.controlplane.api.ApiException;
import dev.flotilla.controlplane.api.Cursors;
import dev.flotilla.controlplane.api.Labels;
import dev.flotilla.controlplane.api.Page;
import dev.flotilla.controlplane.auth.Requires;
import dev.flotilla.controlplane.auth.Scope;
import dev.flotilla.controlplane.placement.PlacementEngine;
import dev.flotilla.controlplane.placement.PlacementOutcome;
import com.fasterxml.jackson.databind.ObjectMapper;
import jakarta.inject.Inject;
import jakarta.persistence.EntityManager;
import jakarta.validation.Validator;
import jakarta.validation.constraints.Max;
import jakarta.validation.constraints.Min;
import jakarta.validation.constraints.Pattern;
import jakarta.ws.rs.DELETE;
import jakarta.ws.rs.DefaultValue;
import jakarta.ws.rs.GET;
import jakarta.ws.rs.POST;
import jakarta.ws.rs.Path;
import jakarta.ws.rs.PathParam;
import jakarta.ws.rs.Produces;
import jakarta.ws.rs.QueryParam;
import jakarta.ws.rs.core.MediaType;
import jakarta.ws.rs.core.Response;
import org.eclipse.microprofile.openapi.annotations.Operation;
import org.eclipse.microprofile.openapi.annotations.parameters.RequestBody;
import org.eclipse.microprofile.openapi.annotations.tags.Tag;
import org.jboss.resteasy.reactive.RestResponse;

import io.vertx.core.Context;
import io.vertx.core.Vertx;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.UUID;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionStage;

@Path("/api/v1/sandboxes")
@Produces(MediaType.APPLICATION_JSON)
@Tag(name = "sandboxes")
@Requires(Scope.READ)
public class SandboxResource {
    @Inject
    PlacementEngine placement;
    @Inject
    SandboxService sandboxes;
    @Inject
    EntityManager entityManager;
    @Inject
    ObjectMapper json;
    @Inject
    Validator validator;

    @POST
    @Requires(Scope.WRITE)
    @Operation(summary = "Create a sandbox; it is placed on a node before the response (or left PENDING with a reason)")
    public CompletionStage<RestResponse<SandboxView>> create(@RequestBody(required = true) SandboxSpec spec) {
        SpecValidation.require(validator, spec); // Bean Validation, skipped for plainly valid specs (see there)
        SandboxSpec normalized = spec.normalized();
        UUID id = UUID.randomUUID();
        Instant created = Instant.now();
        // Answer on the request's own Vert.x context: the placement thread has no request context.
        Context context = Vertx.currentContext();
        // A typed response (not Response) lets RESTEasy pick the JSON writer at build time instead of per request.
        CompletableFuture<RestResponse<SandboxView>> response = new CompletableFuture<>();
        placement.placeNew(id, normalized).thenApply(outcome -> {
            String node = null;
            String observed = SandboxStates.PENDING;
            String message = null;
            Instant placedAt = null;
            switch (outcome) {
                case PlacementOutcome.Placed placed -> {
                    node = placed.nodeName();
                    observed = SandboxStates.SCHEDULED;
                    placedAt = placed.placedAt();
                }
                case PlacementOutcome.Pending pending -> message = pending.reason();
                case PlacementOutcome.NameTaken taken ->
                        throw ApiException.conflict("a sandbox named '" + taken.name() + "' already exists");
                case PlacementOutcome.Skipped skipped -> throw new IllegalStateException("a new sandbox was skipped");
            }
            SandboxView view = new SandboxView(id, normalized.name(), normalized.image(), normalized.command(),
                    normalized.vcpus(), normalized.memoryMiB(), normalized.labels(), normalized.nodeSelector(),
                    normalized.tolerations(), normalized.antiAffinity(), normalized.restartPolicy(), SandboxStates.RUNNING,
                    observed, node, message, 1, 0, null, created, placedAt);
            return RestResponse.ResponseBuilder.create(RestResponse.Status.CREATED, view)
                    .header("Location", "/api/v1/sandboxes/" + id).build();
        }).whenComplete((result, failure) -> {
            Runnable complete = () -> {
                if (failure != null) {
                    response.completeExceptionally(failure instanceof java.util.concurrent.CompletionException
                            && failure.getCause() != null ? failure.getCause() : failure);
                } else {
                    response.complete(result);
                }
            };
            if (context != null) {
                context.runOnContext(ignored -> complete.run());
            } else {
                complete.run();
            }
        });
        return response;
    }

    @GET
    @Operation(summary = "List sandboxes, oldest first, filtered by labels (all must match) and observed state")
    public Page<SandboxView> list(@QueryParam("label") List<String> labels,
                                  @QueryParam("state") @Pattern(regexp = "[A-Z_]+", message = "must be a state name such as RUNNING") String state,
                                  @QueryParam("limit") @DefaultValue("50") @Min(1) @Max(1000) int limit,
                                  @QueryParam("cursor") String cursor) {
        Map<String, String> selector = Labels.parseSelector(labels == null ? List.of() : labels);
        StringBuilder sql = new StringBuilder("SELECT * FROM sandbox WHERE seq > :after");
        if (!selector.isEmpty()) {
            sql.append(" AND labels @> CAST(:selector AS jsonb)");
        }
        if (state != null) {
            sql.append(" AND observed_state = :state");
        }
        sql.append(" ORDER BY seq LIMIT :limit");
        var query = entityManager.createNativeQuery(sql.toString(), SandboxEntity.class)
                .setParameter("after", Cursors.decode(cursor)).setParameter("limit", limit + 1);
        if (!selector.isEmpty()) {
            query.setParameter("selector", writeJson(selector));
        }
        if (state != null) {
            query.setParameter("state", state);
        }
        @SuppressWarnings("unchecked")
        List<SandboxEntity> rows = query.getResultList();
        List<SandboxView> items = new ArrayList<>();
        for (int i = 0; i < Math.min(limit, rows.size()); i++) {
            items.add(view(rows.get(i)));
        }
        String next = rows.size() > limit ? Cursors.encode(rows.get(limit - 1).seq) : null;
        return new Page<>(items, next);
    }

    @GET
    @Path("/{ref}")
    @Operation(summary = "One sandbox, by id or name")
    public SandboxView get(@PathParam("ref") String reference) {
        return view(sandboxes.find(reference));
    }

    @POST
    @Path("/{ref}/stop")
    @Requires(Scope.WRITE)
    @Operation(summary = "Set the desired state to STOPPED")
    public SandboxView stop(@PathParam("ref") String reference) {
        return view(sandboxes.stop(reference));
    }

    @POST
    @Path("/{ref}/start")
    @Requires(Scope.WRITE)
    @Operation(summary = "Set the desired state to RUNNING (restarts a failed or stopped sandbox)")
    public SandboxView start(@PathParam("ref") String reference) {
        SandboxEntity sandbox = sandboxes.start(reference);
        if (sandbox.nodeId == null && SandboxStates.PENDING.equals(sandbox.observedState)) {
            placement.placeExisting(sandbox.id, spec(sandbox), sandbox.message);
        }
        return view(sandbox);
    }

    @DELETE
    @Path("/{ref}")
    @Requires(Scope.WRITE)
    @Operation(summary = "Delete a sandbox: 202 while its node removes it, 200 when it is gone at once")
    public Response delete(@PathParam("ref") String reference) {
        SandboxEntity sandbox = sandboxes.delete(reference);
        int status = SandboxStates.DELETING.equals(sandbox.observedState) ? 202 : 200;
        return Response.status(status).entity(view(sandbox)).build();
    }

    @GET
    @Path("/{ref}/events")
    @Operation(summary = "A sandbox's history, oldest first")
    public Page<SandboxEventView> events(@PathParam("ref") String reference,
                                         @QueryParam("limit") @DefaultValue("100") @Min(1) @Max(1000) int limit,
                                         @QueryParam("cursor") String cursor) {
        UUID id = sandboxes.find(reference).id;
        List<SandboxEventEntity> rows = SandboxEventEntity
                .find("sandboxId = ?1 and id > ?2 order by id", id, Cursors.decode(cursor)).page(0, limit + 1).list();
        List<SandboxEventView> items = rows.stream().limit(limit).map(SandboxEventView::of).toList();
        return new Page<>(items, rows.size() > limit ? Cursors.encode(rows.get(limit - 1).id) : null);
    }

    public static SandboxSpec spec(SandboxEntity sandbox) {
        return new SandboxSpec(sandbox.name, sandbox.image, sandbox.command, sandbox.vcpus, sandbox.memoryMiB,
                sandbox.labels, sandbox.nodeSelector, sandbox.tolerations, sandbox.antiAffinity,
                RestartPolicy.valueOf(sandbox.restartPolicy)).normalized();
    }

    private static SandboxView view(SandboxEntity sandbox) {
        return SandboxView.of(sandbox, sandbox.nodeId == null ? null : sandbox.lastNodeName);
    }

    private String writeJson(Object value) {
        try {
            return json.writeValueAsString(value);
        } catch (Exception e) {
            throw new IllegalStateException(e);
        }
    }
}
