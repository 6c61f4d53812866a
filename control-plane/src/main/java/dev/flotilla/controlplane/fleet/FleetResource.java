package dev.flotilla.controlplane.fleet;

import dev.flotilla.controlplane.auth.Requires;
import dev.flotilla.controlplane.auth.Scope;
import dev.flotilla.controlplane.config.FlotillaConfig;
import dev.flotilla.controlplane.placement.PlacementEngine;
import jakarta.inject.Inject;
import jakarta.persistence.EntityManager;
import jakarta.ws.rs.GET;
import jakarta.ws.rs.Path;
import jakarta.ws.rs.Produces;
import jakarta.ws.rs.core.MediaType;
import org.eclipse.microprofile.openapi.annotations.Operation;
import org.eclipse.microprofile.openapi.annotations.tags.Tag;

import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

@Path("/api/v1/fleet")
@Produces(MediaType.APPLICATION_JSON)
@Tag(name = "fleet")
@Requires(Scope.READ)
public class FleetResource {
    @Inject
    EntityManager entityManager;
    @Inject
    PlacementEngine placement;
    @Inject
    FlotillaConfig config;

    @GET
    @Operation(summary = "Fleet totals: nodes by state, capacity vs allocation, sandboxes by observed state")
    public FleetSummary summary() {
        Map<String, Long> nodesByState = counts("SELECT state, count(*) FROM node GROUP BY state ORDER BY state");
        Map<String, Long> sandboxesByState = counts(
                "SELECT observed_state, count(*) FROM sandbox GROUP BY observed_state ORDER BY observed_state");
        Object[] totals = (Object[]) entityManager.createNativeQuery("""
                SELECT count(*) FILTER (WHERE cordoned), coalesce(sum(cap_vcpus), 0), coalesce(sum(cap_memory_mib), 0),
                       coalesce(sum(cap_max_vms), 0), coalesce(sum(alloc_vcpus), 0), coalesce(sum(alloc_memory_mib), 0),
                       coalesce(sum(alloc_vms), 0)
                FROM node""").getSingleResult();
        Map<String, Long> capacity = new LinkedHashMap<>();
        capacity.put("vcpus", number(totals[1]));
        capacity.put("memoryMiB", number(totals[2]));
        capacity.put("vms", number(totals[3]));
        Map<String, Long> allocated = new LinkedHashMap<>();
        allocated.put("vcpus", number(totals[4]));
        allocated.put("memoryMiB", number(totals[5]));
        allocated.put("vms", number(totals[6]));
        var scheduler = new FleetSummary.SchedulerInfo(config.scheduler().filters(),
                FlotillaConfig.parseWeights(config.scheduler().scores()), config.scheduler().vcpuOvercommit(),
                config.scheduler().memoryOvercommit(), config.scheduler().maxNodesToScore(), placement.queued());
        return new FleetSummary(nodesByState, number(totals[0]), capacity, allocated, sandboxesByState, scheduler);
    }

    private Map<String, Long> counts(String sql) {
        Map<String, Long> counts = new LinkedHashMap<>();
        @SuppressWarnings("unchecked")
        List<Object[]> rows = entityManager.createNativeQuery(sql).getResultList();
        for (Object[] row : rows) {
            counts.put((String) row[0], number(row[1]));
        }
        return counts;
    }

    private static long number(Object value) {
        return ((Number) value).longValue();
    }
}
