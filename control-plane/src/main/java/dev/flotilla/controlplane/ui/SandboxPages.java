package dev.flotilla.controlplane.ui;

import com.fasterxml.jackson.databind.ObjectMapper;
import dev.flotilla.controlplane.api.ApiException;
import dev.flotilla.controlplane.api.Cursors;
import dev.flotilla.controlplane.api.FieldError;
import dev.flotilla.controlplane.sandbox.RestartPolicy;
import dev.flotilla.controlplane.sandbox.SandboxEntity;
import dev.flotilla.controlplane.sandbox.SandboxEventEntity;
import dev.flotilla.controlplane.sandbox.SandboxResource;
import dev.flotilla.controlplane.sandbox.SandboxService;
import dev.flotilla.controlplane.sandbox.SandboxSpec;
import dev.flotilla.controlplane.sandbox.SandboxStates;
import dev.flotilla.controlplane.sandbox.SandboxView;
import dev.flotilla.controlplane.sandbox.TolerationSpec;
import io.quarkus.qute.Location;
import io.quarkus.qute.Template;
import io.quarkus.qute.TemplateInstance;
import jakarta.inject.Inject;
import jakarta.validation.ConstraintViolation;
import jakarta.validation.Validator;
import jakarta.ws.rs.BeanParam;
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
import java.net.URLEncoder;
import java.nio.charset.StandardCharsets;
import java.time.Instant;
import java.time.ZoneOffset;
import java.time.format.DateTimeFormatter;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import java.util.stream.Collectors;

/**
 * Sandboxes: the filtered list, one sandbox's page, the create form and stop/start/delete. Every change goes
 * through the same code as the REST API ({@link SandboxResource}), and its errors are shown as the API words them.
 */
@Path("/ui/sandboxes")
@Produces(MediaType.TEXT_HTML)
public class SandboxPages {
    static final List<String> STATES = List.of(SandboxStates.PENDING, SandboxStates.SCHEDULED, SandboxStates.STARTING,
            SandboxStates.RUNNING, SandboxStates.STOPPING, SandboxStates.STOPPED, SandboxStates.FAILED, SandboxStates.DELETING);
    private static final DateTimeFormatter TIME = DateTimeFormatter.ofPattern("yyyy-MM-dd HH:mm:ss 'UTC'").withZone(ZoneOffset.UTC);
    /** Longest wait for a placement before the form reports that the control plane is too busy. */
    private static final long CREATE_TIMEOUT_SECONDS = 30;

    @Inject
    UiQueries queries;
    @Inject
    SandboxResource api;
    @Inject
    SandboxService sandboxes;
    @Inject
    ObjectMapper json;
    @Inject
    Validator validator;
    @Inject
    @Location("ui/sandboxes.html")
    Template list;
    @Inject
    @Location("ui/sandboxes-table.html")
    Template table;
    @Inject
    @Location("ui/sandbox.html")
    Template detail;
    @Inject
    @Location("ui/sandbox-live.html")
    Template detailLive;
    @Inject
    @Location("ui/sandbox-new.html")
    Template create;

    @GET
    public Response list(@QueryParam("label") String label, @QueryParam("state") String state,
                         @QueryParam("node") String node, @QueryParam("cursor") String cursor,
                         @Context ContainerRequestContext request) {
        return listResponse(list, UiAuthFilter.session(request), label, state, node, cursor, true);
    }

    @GET
    @Path("/table")
    public Response table(@QueryParam("label") String label, @QueryParam("state") String state,
                          @QueryParam("node") String node, @QueryParam("cursor") String cursor,
                          @Context ContainerRequestContext request) {
        return listResponse(table, UiAuthFilter.session(request), label, state, node, cursor, false);
    }

    private Response listResponse(Template template, UiSession session, String label, String state, String node,
                                  String cursor, boolean fullPage) {
        Layout layout = fullPage ? Layout.of("Sandboxes", "sandboxes", session) : Layout.fragment("sandboxes", session);
        String stateFilter = blankToNull(state);
        String nodeFilter = blankToNull(node);
        String query = query(label, stateFilter, nodeFilter);
        List<String> nodeNames = fullPage ? queries.nodeNames() : List.of();
        try {
            if (stateFilter != null && !STATES.contains(stateFilter)) {
                throw ApiException.badRequest("state", "must be one of " + String.join(", ", STATES) + ", got '" + state + "'");
            }
            Map<String, String> labels = UiQueries.labelFilter(label);
            List<SandboxEntity> rows = queries.sandboxes(labels, stateFilter, nodeFilter, Cursors.decode(cursor),
                    UiQueries.PAGE_SIZE + 1);
            String next = rows.size() > UiQueries.PAGE_SIZE ? Cursors.encode(rows.get(UiQueries.PAGE_SIZE - 1).seq) : null;
            Instant now = Instant.now();
            List<SandboxRow> shown = rows.stream().limit(UiQueries.PAGE_SIZE).map(s -> SandboxRow.of(s, now)).toList();
            return Response.ok(template.data("page", new SandboxesPage(layout, shown, nullToBlank(label),
                    nullToBlank(stateFilter), nullToBlank(nodeFilter), STATES, nodeNames, query, next, null)).render()).build();
        } catch (ApiException e) {
            UiProblem problem = UiProblem.from(e);
            return Response.status(problem.status()).entity(template.data("page", new SandboxesPage(layout, List.of(),
                    nullToBlank(label), nullToBlank(stateFilter), nullToBlank(nodeFilter), STATES, nodeNames, query, null,
                    problem)).render()).build();
        }
    }

    @GET
    @Path("/new")
    public TemplateInstance form(@Context ContainerRequestContext request) {
        UiSession session = UiAuthFilter.session(request);
        UiProblem problem = session.canWrite() ? null : readOnly("create sandboxes");
        return create.data("page", new NewSandboxPage(Layout.of("New sandbox", "new", session), new SandboxForm(), problem,
                policies()));
    }

    @POST
    public Response create(@BeanParam SandboxForm form, @Context ContainerRequestContext request) {
        UiSession session = UiAuthFilter.session(request);
        if (!session.canWrite()) {
            return formError(session, form, readOnly("create sandboxes"));
        }
        List<SandboxForm.LineError> lineErrors = new ArrayList<>();
        Map<String, Object> body = form.toRequestBody(lineErrors);
        if (!lineErrors.isEmpty()) {
            List<FieldError> errors = lineErrors.stream().map(e -> new FieldError(e.field(), e.message())).toList();
            return formError(session, form, new UiProblem(400, "Bad Request", "the form is invalid: " + errors.stream()
                    .map(e -> e.field() + " " + e.message()).collect(Collectors.joining("; ")), errors));
        }
        try {
            SandboxSpec spec = json.convertValue(body, SandboxSpec.class);
            Set<ConstraintViolation<SandboxSpec>> violations = validator.validate(spec);
            if (!violations.isEmpty()) {
                return formError(session, form, UiProblem.invalid(violations));
            }
            SandboxView created = api.create(spec).toCompletableFuture().get(CREATE_TIMEOUT_SECONDS, TimeUnit.SECONDS)
                    .getEntity();
            session.notice(created.node() != null
                    ? "Sandbox " + created.name() + " was created and placed on node " + created.node() + "."
                    : "Sandbox " + created.name() + " was created and waits for a node: " + created.message());
            return Response.seeOther(URI.create("/ui/sandboxes/" + created.id())).build();
        } catch (TimeoutException e) {
            return formError(session, form, UiProblem.of(503, "Service Unavailable", "placement did not answer within "
                    + CREATE_TIMEOUT_SECONDS + " s; the sandbox may still be created, check the list before retrying"));
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            return formError(session, form, UiProblem.of(503, "Service Unavailable", "the control plane is shutting down"));
        } catch (Exception e) {
            return formError(session, form, UiProblem.from(e));
        }
    }

    private Response formError(UiSession session, SandboxForm form, UiProblem problem) {
        return Response.status(problem.status()).entity(create.data("page",
                new NewSandboxPage(Layout.of("New sandbox", "new", session), form, problem, policies())).render()).build();
    }

    @GET
    @Path("/{ref}")
    public Response detail(@PathParam("ref") String ref, @Context ContainerRequestContext request) {
        return detailResponse(detail, UiAuthFilter.session(request), ref, null, true);
    }

    @GET
    @Path("/{ref}/live")
    public Response live(@PathParam("ref") String ref, @Context ContainerRequestContext request) {
        return detailResponse(detailLive, UiAuthFilter.session(request), ref, null, false);
    }

    @POST
    @Path("/{ref}/{action:stop|start|delete}")
    public Response act(@PathParam("ref") String ref, @PathParam("action") String action,
                        @Context ContainerRequestContext request) {
        UiSession session = UiAuthFilter.session(request);
        if (!session.canWrite()) {
            return detailResponse(detail, session, ref, readOnly(action + " sandboxes"), true);
        }
        try {
            switch (action) {
                case "stop" -> {
                    SandboxView stopped = api.stop(ref);
                    session.notice("Sandbox " + stopped.name() + " is stopping.");
                }
                case "start" -> {
                    SandboxView started = api.start(ref);
                    session.notice("Sandbox " + started.name() + " is starting (generation " + started.generation() + ").");
                }
                default -> {
                    Response deleted = api.delete(ref);
                    SandboxView view = (SandboxView) deleted.getEntity();
                    session.notice(deleted.getStatus() == 202
                            ? "Sandbox " + view.name() + " is being removed from node " + view.node() + "."
                            : "Sandbox " + view.name() + " was deleted.");
                    return Response.seeOther(URI.create("/ui/sandboxes")).build();
                }
            }
            return Response.seeOther(URI.create("/ui/sandboxes/" + URLEncoder.encode(ref, StandardCharsets.UTF_8))).build();
        } catch (RuntimeException e) {
            return detailResponse(detail, session, ref, UiProblem.from(e), true);
        }
    }

    private Response detailResponse(Template template, UiSession session, String ref, UiProblem problem, boolean fullPage) {
        SandboxEntity sandbox;
        try {
            sandbox = sandboxes.find(ref);
        } catch (ApiException e) {
            sandbox = null;
        }
        String title = sandbox == null ? "Sandbox not found" : "Sandbox " + sandbox.name;
        Layout layout = fullPage ? Layout.of(title, "sandboxes", session) : Layout.fragment("sandboxes", session);
        if (sandbox == null) {
            return Response.status(fullPage ? 404 : 200).entity(template.data("page",
                    new SandboxDetailPage(layout, ref, null, List.of(), problem)).render()).build();
        }
        List<SandboxDetailPage.EventRow> events = queries.events(sandbox.id, 200).stream().map(SandboxPages::event).toList();
        return Response.status(problem == null ? 200 : problem.status()).entity(template.data("page",
                new SandboxDetailPage(layout, ref, detail(sandbox), events, problem)).render()).build();
    }

    private static SandboxDetailPage.SandboxDetail detail(SandboxEntity s) {
        boolean deleting = SandboxStates.DELETED.equals(s.desiredState);
        boolean canStop = !deleting && SandboxStates.RUNNING.equals(s.desiredState);
        boolean canStart = !deleting && (SandboxStates.STOPPED.equals(s.desiredState) || SandboxStates.FAILED.equals(s.observedState));
        String node = s.nodeId == null ? null : s.lastNodeName;
        String consoleUnavailable = "The serial console and logs come from the node a sandbox runs on; this sandbox is on "
                + "no node" + (SandboxStates.PENDING.equals(s.observedState) ? " yet." : ".");
        return new SandboxDetailPage.SandboxDetail(s.id.toString(), s.name, s.image,
                s.command == null || s.command.isEmpty() ? "(image default)" : String.join(" ", s.command), s.vcpus,
                Format.mebibytes(s.memoryMiB), orNone(Format.labels(s.labels)), orNone(Format.labels(s.nodeSelector)),
                orNone(tolerations(s.tolerations)), orNone(Format.labels(s.antiAffinity)), s.restartPolicy,
                s.desiredState, s.observedState, node == null ? "" : node, s.message == null ? "" : s.message, s.generation,
                s.restarts, s.bootTimeMs == null ? "not reported yet" : Format.millis(s.bootTimeMs.doubleValue()),
                TIME.format(s.createdAt), s.placedAt == null ? "not placed" : TIME.format(s.placedAt), canStop, canStart,
                deleting, node == null ? null : s.consoleUrl, consoleUnavailable, runsContainer(s.image));
    }

    /** Images other than the built-in guests run as container "main", whose logs the node agent keeps. */
    private static boolean runsContainer(String image) {
        return image != null && !image.equals("flotilla/tiny") && !image.equals("flotilla/linux");
    }

    private static String tolerations(List<TolerationSpec> tolerations) {
        if (tolerations == null || tolerations.isEmpty()) {
            return "";
        }
        return tolerations.stream().map(t -> (t.key() == null ? "*" : t.key())
                + ("Exists".equals(t.operator()) ? " exists" : "=" + t.value())
                + (t.effect() == null ? "" : ":" + Format.effect(t.effect()))).collect(Collectors.joining(", "));
    }

    private static SandboxDetailPage.EventRow event(SandboxEventEntity e) {
        return new SandboxDetailPage.EventRow(TIME.format(e.at), e.type, e.nodeName == null ? "" : e.nodeName, e.message);
    }

    private static UiProblem readOnly(String what) {
        return UiProblem.of(403, "Forbidden", "the read-only token lacks the WRITE scope needed to " + what);
    }

    private static List<String> policies() {
        return Arrays.stream(RestartPolicy.values()).map(Enum::name).toList();
    }

    private static String query(String label, String state, String node) {
        List<String> parts = new ArrayList<>();
        if (label != null && !label.isBlank()) {
            parts.add("label=" + URLEncoder.encode(label, StandardCharsets.UTF_8));
        }
        if (state != null) {
            parts.add("state=" + URLEncoder.encode(state, StandardCharsets.UTF_8));
        }
        if (node != null) {
            parts.add("node=" + URLEncoder.encode(node, StandardCharsets.UTF_8));
        }
        return String.join("&", parts);
    }

    private static String orNone(String text) {
        return text.isEmpty() ? "none" : text;
    }

    private static String blankToNull(String value) {
        return value == null || value.isBlank() ? null : value.trim();
    }

    private static String nullToBlank(String value) {
        return value == null ? "" : value;
    }
}
