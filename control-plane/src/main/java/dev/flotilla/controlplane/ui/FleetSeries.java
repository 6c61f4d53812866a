package dev.flotilla.controlplane.ui;

import io.agroal.api.AgroalDataSource;
import io.quarkus.scheduler.Scheduled;
import jakarta.inject.Inject;
import jakarta.inject.Singleton;
import org.jboss.logging.Logger;

import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Timestamp;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;

import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * The time series behind the density and boot-time charts. Density: every sample interval one row per READY node
 * (VMs and memory its last heartbeat reported), into a bucket keyed by time so replicas sampling the same bucket
 * write it once. Boot times: filled by a database trigger whenever a heartbeat records one (migration V1_1).
 */
@Singleton
public class FleetSeries {
    private static final Logger LOG = Logger.getLogger(FleetSeries.class);
    /** Nodes drawn as their own line in the density chart; the rest are in the fleet mean only. */
    static final int CHARTED_NODES = 12;
    /** Boot times read for the distribution: the newest ones, enough for a stable p99. */
    static final int BOOT_SAMPLE_LIMIT = 100_000;

    @Inject
    AgroalDataSource dataSource;
    @Inject
    UiConfig config;

    @Scheduled(every = "${flotilla.ui.sample-interval:60s}", delay = 1, concurrentExecution = Scheduled.ConcurrentExecution.SKIP)
    void sample() {
        try {
            sampleNow();
        } catch (SQLException e) {
            LOG.warnf("sampling node density for the dashboard failed: %s", e.getMessage());
        }
    }

    /** Writes this bucket's density rows and drops rows older than the retention. */
    public void sampleNow() throws SQLException {
        long seconds = Math.max(1, config.sampleInterval().toSeconds());
        try (Connection connection = dataSource.getConnection()) {
            try (PreparedStatement insert = connection.prepareStatement("""
                    INSERT INTO node_sample (at, node_id, node_name, vms, memory_mib, alloc_vms, alloc_memory_mib)
                    SELECT to_timestamp(floor(extract(epoch FROM now()) / ?) * ?), id, name, used_vms, used_memory_mib,
                           alloc_vms, alloc_memory_mib
                    FROM node WHERE state = 'READY'
                    ON CONFLICT (at, node_id) DO NOTHING""")) {
                insert.setLong(1, seconds);
                insert.setLong(2, seconds);
                insert.executeUpdate();
            }
            Timestamp cutoff = Timestamp.from(Instant.now().minus(config.retention()));
            try (PreparedStatement prune = connection.prepareStatement("DELETE FROM node_sample WHERE at < ?");
                 PreparedStatement pruneBoots = connection.prepareStatement("DELETE FROM boot_time_sample WHERE at < ?")) {
                prune.setTimestamp(1, cutoff);
                prune.executeUpdate();
                pruneBoots.setTimestamp(1, cutoff);
                pruneBoots.executeUpdate();
            }
        }
    }

    /** One node's line: VMs and memory per VM (MiB; null where it ran none) at each time of {@link Density#times}. */
    public record NodeSeries(String node, List<Integer> vms, List<Double> memoryPerVm) {
    }

    /** The density chart's data; times are ISO-8601 instants. */
    public record Density(List<String> times, List<NodeSeries> nodes, List<Double> meanVmsPerNode,
                          List<Double> meanMemoryPerVm, int nodesSampled) {
    }

    /**
     * The density chart over {@code window}. Fleet means are aggregated in SQL; only the {@link #CHARTED_NODES}
     * nodes with the most VMs in the window are read row by row.
     */
    public Density density(Duration window) throws SQLException {
        Timestamp since = Timestamp.from(Instant.now().minus(window));
        List<Instant> at = new ArrayList<>();
        List<Double> meanVms = new ArrayList<>();
        List<Double> meanMemory = new ArrayList<>();
        List<String> charted = new ArrayList<>();
        Map<String, Map<Instant, long[]>> rowsByNode = new LinkedHashMap<>();
        int nodesSampled;
        try (Connection connection = dataSource.getConnection()) {
            try (PreparedStatement query = connection.prepareStatement("""
                    SELECT at, avg(vms), sum(memory_mib)::float8 / nullif(sum(vms), 0)
                    FROM node_sample WHERE at > ? GROUP BY at ORDER BY at""")) {
                query.setTimestamp(1, since);
                try (ResultSet rows = query.executeQuery()) {
                    while (rows.next()) {
                        at.add(rows.getTimestamp(1).toInstant());
                        meanVms.add(round(rows.getDouble(2)));
                        double memory = rows.getDouble(3);
                        meanMemory.add(rows.wasNull() ? null : round(memory));
                    }
                }
            }
            try (PreparedStatement query = connection.prepareStatement("""
                    SELECT node_name, count(*) OVER () FROM node_sample WHERE at > ?
                    GROUP BY node_name ORDER BY max(vms) DESC, node_name LIMIT ?""")) {
                query.setTimestamp(1, since);
                query.setInt(2, CHARTED_NODES);
                nodesSampled = 0;
                try (ResultSet rows = query.executeQuery()) {
                    while (rows.next()) {
                        charted.add(rows.getString(1));
                        nodesSampled = rows.getInt(2);
                    }
                }
            }
            charted.sort(null);
            for (String node : charted) {
                rowsByNode.put(node, new HashMap<>());
            }
            if (!charted.isEmpty()) {
                try (PreparedStatement query = connection.prepareStatement(
                        "SELECT at, node_name, vms, memory_mib FROM node_sample WHERE at > ? AND node_name = ANY (?)")) {
                    query.setTimestamp(1, since);
                    query.setArray(2, connection.createArrayOf("text", charted.toArray()));
                    try (ResultSet rows = query.executeQuery()) {
                        while (rows.next()) {
                            rowsByNode.get(rows.getString(2)).put(rows.getTimestamp(1).toInstant(),
                                    new long[]{rows.getInt(3), rows.getLong(4)});
                        }
                    }
                }
            }
        }
        List<NodeSeries> series = new ArrayList<>();
        for (Map.Entry<String, Map<Instant, long[]>> node : rowsByNode.entrySet()) {
            List<Integer> vms = new ArrayList<>(at.size());
            List<Double> memoryPerVm = new ArrayList<>(at.size());
            for (Instant time : at) {
                long[] values = node.getValue().get(time);
                vms.add(values == null ? null : (int) values[0]);
                memoryPerVm.add(values == null || values[0] == 0 ? null : round((double) values[1] / values[0]));
            }
            series.add(new NodeSeries(node.getKey(), vms, memoryPerVm));
        }
        return new Density(at.stream().map(Instant::toString).toList(), series, meanVms, meanMemory, nodesSampled);
    }

    /** One bar of the boot-time histogram: [from, to) milliseconds. */
    public record Bucket(long from, long to, int count) {
    }

    /** One point of the boot-time trend. */
    public record TrendPoint(String at, double p50, double p99, int count) {
    }

    /** The boot-time charts' data. */
    public record BootTimes(int count, Double p50, Double p90, Double p99, Double max, List<Bucket> histogram,
                            List<TrendPoint> trend) {
    }

    public BootTimes bootTimes(Duration window) throws SQLException {
        Instant since = Instant.now().minus(window);
        List<Long> values = new ArrayList<>();
        List<TrendPoint> trend = new ArrayList<>();
        try (Connection connection = dataSource.getConnection()) {
            try (PreparedStatement query = connection.prepareStatement(
                    "SELECT millis FROM boot_time_sample WHERE at > ? ORDER BY at DESC LIMIT ?")) {
                query.setTimestamp(1, Timestamp.from(since));
                query.setInt(2, BOOT_SAMPLE_LIMIT);
                try (ResultSet rows = query.executeQuery()) {
                    while (rows.next()) {
                        values.add(rows.getLong(1));
                    }
                }
            }
            // About 60 points over the window, whatever its length.
            long binSeconds = Math.max(1, window.toSeconds() / 60);
            try (PreparedStatement query = connection.prepareStatement("""
                    SELECT date_bin(make_interval(secs => ?), at, TIMESTAMPTZ '2000-01-01') AS bin,
                           percentile_disc(0.5) WITHIN GROUP (ORDER BY millis),
                           percentile_disc(0.99) WITHIN GROUP (ORDER BY millis), count(*)
                    FROM boot_time_sample WHERE at > ? GROUP BY bin ORDER BY bin""")) {
                query.setLong(1, binSeconds);
                query.setTimestamp(2, Timestamp.from(since));
                try (ResultSet rows = query.executeQuery()) {
                    while (rows.next()) {
                        trend.add(new TrendPoint(rows.getTimestamp(1).toInstant().toString(), round(rows.getDouble(2)),
                                round(rows.getDouble(3)), rows.getInt(4)));
                    }
                }
            }
        }
        long[] sorted = values.stream().mapToLong(Long::longValue).sorted().toArray();
        if (sorted.length == 0) {
            return new BootTimes(0, null, null, null, null, List.of(), trend);
        }
        return new BootTimes(sorted.length, percentile(sorted, 0.5), percentile(sorted, 0.9), percentile(sorted, 0.99),
                (double) sorted[sorted.length - 1], histogram(sorted), trend);
    }

    /** Equal-width buckets from the fastest boot to the slowest, at most 20 of them, widths rounded to whole ms. */
    static List<Bucket> histogram(long[] sorted) {
        long min = sorted[0];
        long max = sorted[sorted.length - 1];
        long width = Math.max(1, (long) Math.ceil((max - min + 1) / 20.0));
        int buckets = (int) ((max - min) / width) + 1;
        int[] counts = new int[buckets];
        for (long value : sorted) {
            counts[(int) ((value - min) / width)]++;
        }
        List<Bucket> result = new ArrayList<>(buckets);
        for (int i = 0; i < buckets; i++) {
            result.add(new Bucket(min + i * width, min + (i + 1) * width, counts[i]));
        }
        return result;
    }

    /** Nearest-rank percentile of sorted values: what percentile_disc gives in the trend and overview queries. */
    static double percentile(long[] sorted, double p) {
        int rank = (int) Math.ceil(p * sorted.length);
        return sorted[Math.max(0, Math.min(sorted.length - 1, rank - 1))];
    }

    private static double round(double value) {
        return Math.round(value * 10) / 10.0;
    }

}
