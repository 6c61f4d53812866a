package dev.flotilla.controlplane.placement;

import com.fasterxml.jackson.core.type.TypeReference;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.flotilla.contract.v1.Taint;
import dev.flotilla.controlplane.scheduler.NodeInfo;
import dev.flotilla.controlplane.scheduler.NodeTable;
import dev.flotilla.controlplane.scheduler.Resources;

import java.io.IOException;
import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.UUID;

/**
 * The placement path's copy of the node table, so scheduling needs no query. Confined to the placement thread
 * (only {@link #read} may run elsewhere). It may lag other replicas' writes; the placement transaction re-checks
 * against locked rows and refreshes the nodes it touched.
 */
final class FleetCache {
    private static final TypeReference<Map<String, String>> STRING_MAP = new TypeReference<>() {
    };
    private static final TypeReference<List<Taint>> TAINTS = new TypeReference<>() {
    };
    private static final String NODE_COLUMNS = "id, name, cap_vcpus, cap_memory_mib, cap_max_vms, alloc_vcpus, "
            + "alloc_memory_mib, alloc_vms, labels::text, taints::text, state, cordoned";

    private final ObjectMapper json;
    /** The nodes in order, with the columns the scheduler scans (see {@link NodeTable}). */
    private NodeTable nodes = new NodeTable();
    private final Map<UUID, Integer> indexById = new HashMap<>();
    /** Nodes replaced while a background reload runs: their cached version is newer than the reload's snapshot. */
    private Set<UUID> replacedDuringReload;

    FleetCache(ObjectMapper json) {
        this.json = json;
    }

    NodeTable table() {
        return nodes;
    }

    NodeInfo get(UUID id) {
        Integer index = indexById.get(id);
        return index == null ? null : nodes.get(index);
    }

    void replace(NodeInfo node) {
        Integer index = indexById.get(node.id());
        if (index == null) {
            indexById.put(node.id(), nodes.add(node));
        } else {
            nodes.set(index, node);
        }
        if (replacedDuringReload != null) {
            replacedDuringReload.add(node.id());
        }
    }

    /** Replaces the whole cache with the database's current view. */
    void reloadAll(Connection connection) throws SQLException {
        replacedDuringReload = null;
        install(read(connection, json));
    }

    /**
     * Marks the start of a reload that runs elsewhere ({@link #read}); every node replaced from now on keeps its
     * cached version when {@link #install} applies the reload's (older) snapshot.
     */
    void beginReload() {
        replacedDuringReload = new HashSet<>();
    }

    /** Forgets a reload that failed. */
    void abandonReload() {
        replacedDuringReload = null;
    }

    /** Applies a reload's snapshot, except for the nodes replaced since {@link #beginReload()}. */
    void install(List<NodeInfo> loaded) {
        Set<UUID> newer = replacedDuringReload == null ? Set.of() : replacedDuringReload;
        replacedDuringReload = null;
        List<NodeInfo> merged = new ArrayList<>(Math.max(loaded.size(), nodes.size()));
        Set<UUID> seen = new HashSet<>();
        for (NodeInfo node : loaded) {
            seen.add(node.id());
            merged.add(newer.contains(node.id()) ? get(node.id()) : node);
        }
        for (UUID id : newer) {
            if (!seen.contains(id) && get(id) != null) {
                merged.add(get(id));
            }
        }
        nodes = NodeTable.of(merged);
        indexById.clear();
        for (int i = 0; i < merged.size(); i++) {
            indexById.put(merged.get(i).id(), i);
        }
    }

    /**
     * Reads every node with the labels of its sandboxes, in one repeatable-read snapshot. Touches no cache state,
     * so it may run on another thread with its own connection.
     */
    static List<NodeInfo> read(Connection connection, ObjectMapper json) throws SQLException {
        boolean autoCommit = connection.getAutoCommit();
        int isolation = connection.getTransactionIsolation();
        connection.setAutoCommit(false);
        connection.setTransactionIsolation(Connection.TRANSACTION_REPEATABLE_READ);
        try {
            // Many sandboxes carry the same labels (an app's replicas): parse each distinct text once and share it.
            Map<String, Map<String, String>> parsedLabels = new HashMap<>();
            Map<UUID, List<Map<String, String>>> labelsByNode = new HashMap<>();
            try (PreparedStatement statement = connection.prepareStatement(
                    "SELECT node_id, labels::text FROM sandbox WHERE node_id IS NOT NULL AND labels <> '{}'::jsonb")) {
                statement.setFetchSize(5000);
                try (ResultSet rows = statement.executeQuery()) {
                    while (rows.next()) {
                        String text = rows.getString(2);
                        Map<String, String> labels = parsedLabels.get(text);
                        if (labels == null) {
                            labels = Map.copyOf(parse(json, text, STRING_MAP));
                            parsedLabels.put(text, labels);
                        }
                        labelsByNode.computeIfAbsent(rows.getObject(1, UUID.class), id -> new ArrayList<>()).add(labels);
                    }
                }
            }
            List<NodeInfo> loaded = new ArrayList<>();
            try (PreparedStatement statement = connection.prepareStatement(
                    "SELECT " + NODE_COLUMNS + " FROM node ORDER BY name")) {
                statement.setFetchSize(5000);
                try (ResultSet rows = statement.executeQuery()) {
                    while (rows.next()) {
                        loaded.add(node(json, rows, labelsByNode.getOrDefault(rows.getObject(1, UUID.class), List.of())));
                    }
                }
            }
            connection.commit();
            return loaded;
        } finally {
            connection.rollback();
            connection.setTransactionIsolation(isolation);
            connection.setAutoCommit(autoCommit);
        }
    }

    /** Re-reads one node and the labels of its sandboxes; drops it from the cache if it no longer exists. */
    void reloadNode(Connection connection, UUID id) throws SQLException {
        List<Map<String, String>> labels = new ArrayList<>();
        try (PreparedStatement statement = connection.prepareStatement(
                "SELECT labels::text FROM sandbox WHERE node_id = ? AND labels <> '{}'::jsonb")) {
            statement.setObject(1, id);
            try (ResultSet rows = statement.executeQuery()) {
                while (rows.next()) {
                    labels.add(parse(json, rows.getString(1), STRING_MAP));
                }
            }
        }
        try (PreparedStatement statement = connection.prepareStatement("SELECT " + NODE_COLUMNS + " FROM node WHERE id = ?")) {
            statement.setObject(1, id);
            try (ResultSet rows = statement.executeQuery()) {
                if (rows.next()) {
                    replace(node(json, rows, labels));
                }
            }
        }
    }

    private static NodeInfo node(ObjectMapper json, ResultSet rows, List<Map<String, String>> sandboxLabels)
            throws SQLException {
        return new NodeInfo(rows.getObject(1, UUID.class), rows.getString(2),
                new Resources(rows.getInt(3), rows.getLong(4), rows.getInt(5)),
                new Resources(rows.getInt(6), rows.getLong(7), rows.getInt(8)),
                parse(json, rows.getString(9), STRING_MAP), parse(json, rows.getString(10), TAINTS),
                "READY".equals(rows.getString(11)), rows.getBoolean(12), sandboxLabels);
    }

    private static <T> T parse(ObjectMapper json, String text, TypeReference<T> type) throws SQLException {
        try {
            return json.readValue(text, type);
        } catch (IOException e) {
            throw new SQLException("unreadable JSON column '" + text + "': " + e.getMessage(), e);
        }
    }
}
