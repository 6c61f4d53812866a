package dev.flotilla.controlplane.placement;

import com.fasterxml.jackson.core.type.TypeReference;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.flotilla.contract.v1.Taint;
import dev.flotilla.controlplane.scheduler.NodeInfo;
import dev.flotilla.controlplane.scheduler.Resources;

import java.io.IOException;
import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.UUID;

/**
 * The placement path's copy of the node table, so scheduling needs no query. Confined to the placement thread.
 * It may lag other replicas' writes; the placement transaction re-checks against locked rows and refreshes the
 * nodes it touched.
 */
final class FleetCache {
    private static final TypeReference<Map<String, String>> STRING_MAP = new TypeReference<>() {
    };
    private static final TypeReference<List<Taint>> TAINTS = new TypeReference<>() {
    };
    private static final String NODE_COLUMNS = "id, name, cap_vcpus, cap_memory_mib, cap_max_vms, alloc_vcpus, "
            + "alloc_memory_mib, alloc_vms, labels::text, taints::text, state, cordoned";

    private final ObjectMapper json;
    private final List<NodeInfo> nodes = new ArrayList<>();
    private final Map<UUID, Integer> indexById = new HashMap<>();

    FleetCache(ObjectMapper json) {
        this.json = json;
    }

    List<NodeInfo> nodes() {
        return nodes;
    }

    NodeInfo get(UUID id) {
        Integer index = indexById.get(id);
        return index == null ? null : nodes.get(index);
    }

    void replace(NodeInfo node) {
        Integer index = indexById.get(node.id());
        if (index == null) {
            indexById.put(node.id(), nodes.size());
            nodes.add(node);
        } else {
            nodes.set(index, node);
        }
    }

    /** Replaces the whole cache with the database's current view. */
    void reloadAll(Connection connection) throws SQLException {
        Map<UUID, List<Map<String, String>>> labelsByNode = new HashMap<>();
        try (PreparedStatement statement = connection.prepareStatement(
                "SELECT node_id, labels::text FROM sandbox WHERE node_id IS NOT NULL AND labels <> '{}'::jsonb")) {
            statement.setFetchSize(5000);
            try (ResultSet rows = statement.executeQuery()) {
                while (rows.next()) {
                    labelsByNode.computeIfAbsent(rows.getObject(1, UUID.class), id -> new ArrayList<>())
                            .add(parse(rows.getString(2), STRING_MAP));
                }
            }
        }
        nodes.clear();
        indexById.clear();
        try (PreparedStatement statement = connection.prepareStatement(
                "SELECT " + NODE_COLUMNS + " FROM node ORDER BY name")) {
            statement.setFetchSize(5000);
            try (ResultSet rows = statement.executeQuery()) {
                while (rows.next()) {
                    NodeInfo node = node(rows, labelsByNode.getOrDefault(rows.getObject(1, UUID.class), List.of()));
                    indexById.put(node.id(), nodes.size());
                    nodes.add(node);
                }
            }
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
                    labels.add(parse(rows.getString(1), STRING_MAP));
                }
            }
        }
        try (PreparedStatement statement = connection.prepareStatement("SELECT " + NODE_COLUMNS + " FROM node WHERE id = ?")) {
            statement.setObject(1, id);
            try (ResultSet rows = statement.executeQuery()) {
                if (rows.next()) {
                    replace(node(rows, labels));
                }
            }
        }
    }

    private NodeInfo node(ResultSet rows, List<Map<String, String>> sandboxLabels) throws SQLException {
        return new NodeInfo(rows.getObject(1, UUID.class), rows.getString(2),
                new Resources(rows.getInt(3), rows.getLong(4), rows.getInt(5)),
                new Resources(rows.getInt(6), rows.getLong(7), rows.getInt(8)),
                parse(rows.getString(9), STRING_MAP), parse(rows.getString(10), TAINTS),
                "READY".equals(rows.getString(11)), rows.getBoolean(12), sandboxLabels);
    }

    private <T> T parse(String text, TypeReference<T> type) throws SQLException {
        try {
            return json.readValue(text, type);
        } catch (IOException e) {
            throw new SQLException("unreadable JSON column '" + text + "': " + e.getMessage(), e);
        }
    }
}
