package dev.flotilla.controlplane.ui;

import dev.flotilla.controlplane.api.ApiException;
import dev.flotilla.controlplane.node.NodeEntity;
import dev.flotilla.controlplane.sandbox.SandboxEntity;
import dev.flotilla.controlplane.sandbox.SandboxStates;
import io.quarkus.qute.Location;
import io.quarkus.qute.Template;
import io.quarkus.qute.TemplateInstance;
import jakarta.inject.Inject;
import jakarta.ws.rs.DefaultValue;
import jakarta.ws.rs.GET;
import jakarta.ws.rs.Path;
import jakarta.ws.rs.Produces;
import jakarta.ws.rs.QueryParam;
import jakarta.ws.rs.container.ContainerRequestContext;
import jakarta.ws.rs.core.Context;
import jakarta.ws.rs.core.MediaType;

import java.sql.SQLException;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;

/** Overview, density and boot-time pages, and the JSON their charts load. */
@Path("/ui")
@Produces(MediaType.TEXT_HTML)
public class FleetPages {
    /** Chart windows offered, in order. */
    static final Map<String, Duration> WINDOWS = new java.util.LinkedHashMap<>(Map.of());

    static {
        WINDOWS.put("15m", Duration.ofMinutes(15));
        WINDOWS.put("1h", Duration.ofHours(1));
        WINDOWS.put("6h", Duration.ofHours(6));
        WINDOWS.put("24h", Duration.ofHours(24));
    }

    @Inject
    UiQueries queries;
    @Inject
    FleetSeries series;
    @Inject
    @Location("ui/overview.html")
    Template overview;
    @Inject
    @Location("ui/overview-live.html")
    Template overviewLive;
    @Inject
    @Location("ui/density.html")
    Template density;
    @Inject
    @Location("ui/boot-times.html")
    Template bootTimes;

    @GET
    public TemplateInstance overview(@Context ContainerRequestContext request) {
        return overview.data("page", overviewPage(UiAuthFilter.session(request), true));
    }

    @GET
    @Path("/overview/live")
    public TemplateInstance overviewLive(@Context ContainerRequestContext request) {
        return overviewLive.data("page", overviewPage(UiAuthFilter.session(request), false));
    }

    @GET
    @Path("/density")
    public TemplateInstance density(@QueryParam("window") @DefaultValue("1h") String window,
                                    @Context ContainerRequestContext request) {
        String chosen = window(window);
        return density.data("page", new ChartPage(Layout.of("Density", "density", UiAuthFilter.session(request)), chosen,
                List.copyOf(WINDOWS.keySet()), "/ui/data/density?window=" + chosen));
    }

    @GET
    @Path("/boot-times")
    public TemplateInstance bootTimes(@QueryParam("window") @DefaultValue("24h") String window,
                                      @Context ContainerRequestContext request) {
        String chosen = window(window);
        return bootTimes.data("page", new ChartPage(Layout.of("Boot times", "boot-times", UiAuthFilter.session(request)),
                chosen, List.copyOf(WINDOWS.keySet()), "/ui/data/boot-times?window=" + chosen));
    }

    @GET
    @Path("/data/density")
    @Produces(MediaType.APPLICATION_JSON)
    public FleetSeries.Density densityData(@QueryParam("window") @DefaultValue("1h") String window) throws SQLException {
        return series.density(WINDOWS.get(window(window)));
    }

    @GET
    @Path("/data/boot-times")
    @Produces(MediaType.APPLICATION_JSON)
    public FleetSeries.BootTimes bootTimeData(@QueryParam("window") @DefaultValue("24h") String window) throws SQLException {
        return series.bootTimes(WINDOWS.get(window(window)));
    }

    private static String window(String window) {
        if (!WINDOWS.containsKey(window)) {
            throw ApiException.badRequest("window", "must be one of " + String.join(", ", WINDOWS.keySet())
                    + ", got '" + window + "'");
        }
        return window;
    }

    private OverviewPage overviewPage(UiSession session, boolean fullPage) {
        Instant now = Instant.now();
        UiQueries.Totals totals = queries.totals();
        List<Usage> capacity = List.of(
                Usage.of("vCPUs", totals.allocVcpus(), totals.usedVcpus(), totals.capVcpus(), n -> n + ""),
                Usage.of("Memory", totals.allocMemoryMiB(), totals.usedMemoryMiB(), totals.capMemoryMiB(), Format::mebibytes),
                Usage.of("VM slots", totals.allocVms(), totals.usedVms(), totals.capVms(), n -> n + ""));
        List<StateCount> states = queries.sandboxStates();
        long sandboxes = states.stream().mapToLong(StateCount::count).sum();
        long running = states.stream().filter(s -> s.state().equals(SandboxStates.RUNNING)).mapToLong(StateCount::count).sum();
        UiQueries.BootStats boot = queries.bootStats(Duration.ofHours(24));
        List<NodeRow> busiest = queries.busiestNodes(8).stream().map(n -> NodeRow.of(n, now)).toList();
        return new OverviewPage(fullPage ? Layout.of("Overview", "overview", session) : Layout.fragment("overview", session), totals.nodes(), totals.ready(),
                totals.unhealthy(), totals.cordoned(), capacity, totals.usedVms(), sandboxes, running, states,
                Format.millis(boot.p50()), Format.millis(boot.p99()), boot.count(), alerts(now), busiest);
    }

    /** What needs attention now: lost, cordoned, full or KVM-less nodes; failed and unschedulable sandboxes. */
    private List<Alert> alerts(Instant now) {
        List<Alert> alerts = new ArrayList<>();
        for (NodeEntity node : queries.nodesNeedingAttention(20)) {
            String link = "/ui/nodes#node-" + node.name;
            if (!NodeEntity.READY.equals(node.state)) {
                alerts.add(new Alert("critical", "Node " + node.name + " is " + node.state.toLowerCase()
                        + ": no heartbeat " + Format.age(node.lastHeartbeatAt, now) + ".", link));
            }
            if (node.cordoned) {
                alerts.add(new Alert("warning", "Node " + node.name + " is cordoned: no new sandboxes are placed on it.", link));
            }
            if ("NONE".equals(node.kvmKind)) {
                alerts.add(new Alert("critical", "Node " + node.name + " has no usable /dev/kvm.", link));
            }
            if (node.capMaxVms > 0 && node.allocVms * 10L >= node.capMaxVms * 9L) {
                alerts.add(new Alert("warning", "Node " + node.name + " has " + node.allocVms + " of " + node.capMaxVms
                        + " VM slots reserved.", link));
            }
            if (node.capMemoryMiB > 0 && node.allocMemoryMiB * 10 >= node.capMemoryMiB * 9) {
                alerts.add(new Alert("warning", "Node " + node.name + " has " + Format.mebibytes(node.allocMemoryMiB)
                        + " of " + Format.mebibytes(node.capMemoryMiB) + " memory reserved.", link));
            }
        }
        long failed = queries.countSandboxes(SandboxStates.FAILED);
        for (SandboxEntity sandbox : queries.sandboxesInState(SandboxStates.FAILED, 5)) {
            alerts.add(new Alert("critical", "Sandbox " + sandbox.name + " failed" + reason(sandbox.message),
                    "/ui/sandboxes/" + sandbox.id));
        }
        if (failed > 5) {
            alerts.add(new Alert("critical", (failed - 5) + " more sandboxes failed.", "/ui/sandboxes?state=FAILED"));
        }
        long pending = queries.countSandboxes(SandboxStates.PENDING);
        for (SandboxEntity sandbox : queries.sandboxesInState(SandboxStates.PENDING, 5)) {
            alerts.add(new Alert("warning", "Sandbox " + sandbox.name + " waits for a node" + reason(sandbox.message),
                    "/ui/sandboxes/" + sandbox.id));
        }
        if (pending > 5) {
            alerts.add(new Alert("warning", (pending - 5) + " more sandboxes wait for a node.", "/ui/sandboxes?state=PENDING"));
        }
        return alerts;
    }

    private static String reason(String message) {
        return message == null || message.isBlank() ? "." : ": " + message + (message.endsWith(".") ? "" : ".");
    }
}
