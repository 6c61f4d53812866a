package dev.flotilla.controlplane.ui;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.flotilla.controlplane.node.NodeEntity;
import dev.flotilla.controlplane.sandbox.SandboxEntity;
import dev.flotilla.controlplane.sandbox.SandboxEventEntity;
import jakarta.inject.Inject;
import jakarta.inject.Singleton;
import jakarta.persistence.EntityManager;

import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.UUID;

/** The reads behind the dashboard's pages: plain SQL over the same tables the API serves. */
@Singleton
public class UiQueries {
    /** Rows per page of the node and sandbox lists (keyset paginated beyond). */
    static final int PAGE_SIZE = 100;

    @Inject
    EntityManager entityManager;
    @Inject
    ObjectMapper json;

    /** Fleet totals for the overview. */
    public record Totals(long nodes, long ready, long unhealthy, long cordoned, long capVcpus, long capMemoryMiB,
                         long capVms, long allocVcpus, long allocMemoryMiB, long allocVms, long usedVcpus,
                         long usedMemoryMiB, long usedVms) {
    }

    public Totals totals() {
        Object[] row = (Object[]) entityManager.createNativeQuery("""
                SELECT count(*), count(*) FILTER (WHERE state = 'READY'), count(*) FILTER (WHERE state = 'UNHEALTHY'),
                       count(*) FILTER (WHERE cordoned),
                       coalesce(sum(cap_vcpus), 0), coalesce(sum(cap_memory_mib), 0), coalesce(sum(cap_max_vms), 0),
                       coalesce(sum(alloc_vcpus), 0), coalesce(sum(alloc_memory_mib), 0), coalesce(sum(alloc_vms), 0),
                       coalesce(sum(used_vcpus), 0), coalesce(sum(used_memory_mib), 0), coalesce(sum(used_vms), 0)
                FROM node""").getSingleResult();
        long[] v = new long[row.length];
        for (int i = 0; i < row.length; i++) {
            v[i] = ((Number) row[i]).longValue();
        }
        return new Totals(v[0], v[1], v[2], v[3], v[4], v[5], v[6], v[7], v[8], v[9], v[10], v[11], v[12]);
    }

    public List<StateCount> sandboxStates() {
        @SuppressWarnings("unchecked")
        List<Object[]> rows = entityManager.createNativeQuery(
                "SELECT observed_state, count(*) FROM sandbox GROUP BY observed_state ORDER BY observed_state").getResultList();
        return rows.stream().map(r -> new StateCount((String) r[0], ((Number) r[1]).longValue())).toList();
    }

    /** Nodes by name after {@code afterName}, at most {@code limit}. */
    public List<NodeEntity> nodes(String afterName, int limit) {
        return entityManager.createQuery("from NodeEntity n where n.name > :after order by n.name", NodeEntity.class)
                .setParameter("after", afterName == null ? "" : afterName).setMaxResults(limit).getResultList();
    }

    public List<NodeEntity> busiestNodes(int limit) {
        return entityManager.createQuery("from NodeEntity n order by n.allocVms desc, n.name", NodeEntity.class)
                .setMaxResults(limit).getResultList();
    }

    public List<String> nodeNames() {
        return entityManager.createQuery("select n.name from NodeEntity n order by n.name", String.class)
                .setMaxResults(1000).getResultList();
    }

    public List<NodeEntity> nodesNeedingAttention(int limit) {
        return entityManager.createQuery("""
                        from NodeEntity n where n.state <> 'READY' or n.cordoned or n.kvmKind = 'NONE'
                           or (n.capMaxVms > 0 and n.allocVms * 10 >= n.capMaxVms * 9)
                           or (n.capMemoryMiB > 0 and n.allocMemoryMiB * 10 >= n.capMemoryMiB * 9)
                        order by n.name""", NodeEntity.class)
                .setMaxResults(limit).getResultList();
    }

    /**
     * Sandboxes oldest first after sequence number {@code afterSeq}, filtered by labels (all must match), observed
     * state and node name; empty filters match everything.
     */
    public List<SandboxEntity> sandboxes(Map<String, String> labels, String state, String nodeName, long afterSeq, int limit) {
        StringBuilder sql = new StringBuilder("SELECT s.* FROM sandbox s WHERE s.seq > :after");
        if (!labels.isEmpty()) {
            sql.append(" AND s.labels @> CAST(:labels AS jsonb)");
        }
        if (state != null) {
            sql.append(" AND s.observed_state = :state");
        }
        if (nodeName != null) {
            sql.append(" AND s.node_id = (SELECT id FROM node WHERE name = :node)");
        }
        sql.append(" ORDER BY s.seq LIMIT :limit");
        var query = entityManager.createNativeQuery(sql.toString(), SandboxEntity.class)
                .setParameter("after", afterSeq).setParameter("limit", limit);
        if (!labels.isEmpty()) {
            try {
                query.setParameter("labels", json.writeValueAsString(labels));
            } catch (JsonProcessingException e) {
                throw new IllegalStateException("a label map could not be written as JSON", e);
            }
        }
        if (state != null) {
            query.setParameter("state", state);
        }
        if (nodeName != null) {
            query.setParameter("node", nodeName);
        }
        @SuppressWarnings("unchecked")
        List<SandboxEntity> rows = query.getResultList();
        return rows;
    }

    public long countSandboxes(String state) {
        return ((Number) entityManager.createNativeQuery("SELECT count(*) FROM sandbox WHERE observed_state = :state")
                .setParameter("state", state).getSingleResult()).longValue();
    }

    public List<SandboxEntity> sandboxesInState(String state, int limit) {
        return entityManager.createQuery("from SandboxEntity s where s.observedState = :state order by s.seq",
                SandboxEntity.class).setParameter("state", state).setMaxResults(limit).getResultList();
    }

    /** The newest events of a sandbox, oldest first. */
    public List<SandboxEventEntity> events(UUID sandboxId, int limit) {
        List<SandboxEventEntity> newestFirst = entityManager.createQuery(
                        "from SandboxEventEntity e where e.sandboxId = :id order by e.id desc", SandboxEventEntity.class)
                .setParameter("id", sandboxId).setMaxResults(limit).getResultList();
        List<SandboxEventEntity> events = new ArrayList<>(newestFirst);
        java.util.Collections.reverse(events);
        return events;
    }

    /** p50 and p99 of boot times reported within {@code window}, and how many there were. */
    public record BootStats(Double p50, Double p99, long count) {
    }

    public BootStats bootStats(Duration window) {
        Object[] row = (Object[]) entityManager.createNativeQuery("""
                SELECT percentile_disc(0.5) WITHIN GROUP (ORDER BY millis), percentile_disc(0.99) WITHIN GROUP (ORDER BY millis),
                       count(*)
                FROM boot_time_sample WHERE at > :since""")
                .setParameter("since", Instant.now().minus(window)).getSingleResult();
        return new BootStats(row[0] == null ? null : ((Number) row[0]).doubleValue(),
                row[1] == null ? null : ((Number) row[1]).doubleValue(), ((Number) row[2]).longValue());
    }

    /** Parses the sandbox list's label filter "app=web, tier=db" (commas or spaces between pairs). */
    static Map<String, String> labelFilter(String text) {
        Map<String, String> labels = new LinkedHashMap<>();
        if (text == null || text.isBlank()) {
            return labels;
        }
        List<String> pairs = new ArrayList<>();
        for (String part : text.split("[,\\s]+")) {
            if (!part.isEmpty()) {
                pairs.add(part);
            }
        }
        labels.putAll(dev.flotilla.controlplane.api.Labels.parseSelector(pairs));
        return labels;
    }
}
