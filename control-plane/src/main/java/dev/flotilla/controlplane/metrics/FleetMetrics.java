package dev.flotilla.controlplane.metrics;

import dev.flotilla.contract.v1.VmReport;
import io.micrometer.core.instrument.DistributionSummary;
import io.micrometer.core.instrument.Gauge;
import io.micrometer.core.instrument.MeterRegistry;
import io.quarkus.runtime.StartupEvent;
import jakarta.enterprise.event.Observes;
import jakarta.inject.Inject;
import jakarta.inject.Singleton;

import java.util.Arrays;
import java.util.List;
import java.util.Map;
import java.util.UUID;
import java.util.concurrent.ConcurrentHashMap;
import java.util.function.ToDoubleFunction;

/**
 * Fleet metrics aggregated from heartbeats, exported on /q/metrics:
 * {@code flotilla_vm_boot_time_milliseconds} (summary with p50/p90/p99), and gauges
 * {@code flotilla_fleet_vms_per_node{stat}} and {@code flotilla_fleet_memory_per_vm_mib{stat}} with
 * stat = mean, p50, p99, max over the latest report of every live node. Per-node series are deliberately not
 * exported: ten thousand nodes would be ten thousand series.
 */
@Singleton
public class FleetMetrics {
    private static final long RECOMPUTE_NANOS = 2_000_000_000L;

    @Inject
    MeterRegistry registry;

    /** Latest report per node: memory (MiB) of each VM. */
    private final Map<UUID, long[]> vmMemoryByNode = new ConcurrentHashMap<>();
    private DistributionSummary bootTimes;
    private volatile Stats stats = new Stats(new double[0], new double[0]);
    private volatile long computedAt;

    private record Stats(double[] vmsPerNode, double[] memoryPerVm) {
    }

    void onStart(@Observes StartupEvent event) {
        bootTimes = DistributionSummary.builder("flotilla.vm.boot.time").baseUnit("milliseconds")
                .description("Launch request to guest init, as reported by node agents")
                .publishPercentiles(0.5, 0.9, 0.99).register(registry);
        for (String stat : List.of("mean", "p50", "p99", "max")) {
            gauge("flotilla.fleet.vms.per.node", stat, Stats::vmsPerNode);
            gauge("flotilla.fleet.memory.per.vm.mib", stat, Stats::memoryPerVm);
        }
        Gauge.builder("flotilla.fleet.nodes.reporting", vmMemoryByNode, Map::size).register(registry);
    }

    private void gauge(String name, String stat, java.util.function.Function<Stats, double[]> values) {
        ToDoubleFunction<FleetMetrics> function = metrics -> statistic(values.apply(metrics.current()), stat);
        Gauge.builder(name, this, function).tag("stat", stat).register(registry);
    }

    public void bootTime(long millis) {
        if (millis >= 0) {
            bootTimes.record(millis);
        }
    }

    public void nodeReported(UUID nodeId, List<VmReport> vms) {
        long[] memory = new long[vms.size()];
        for (int i = 0; i < memory.length; i++) {
            memory[i] = vms.get(i) == null ? 0 : vms.get(i).memoryMiB();
        }
        vmMemoryByNode.put(nodeId, memory);
    }

    public void nodeGone(UUID nodeId) {
        vmMemoryByNode.remove(nodeId);
    }

    private Stats current() {
        long now = System.nanoTime();
        if (now - computedAt > RECOMPUTE_NANOS) {
            double[] perNode = new double[vmMemoryByNode.size()];
            int total = 0;
            int i = 0;
            for (long[] memory : vmMemoryByNode.values()) {
                if (i < perNode.length) {
                    perNode[i++] = memory.length;
                    total += memory.length;
                }
            }
            double[] perVm = new double[total];
            int j = 0;
            for (long[] memory : vmMemoryByNode.values()) {
                for (long m : memory) {
                    if (j < perVm.length) {
                        perVm[j++] = m;
                    }
                }
            }
            Arrays.sort(perNode);
            Arrays.sort(perVm);
            stats = new Stats(perNode, perVm);
            computedAt = now;
        }
        return stats;
    }

    /** mean/p50/p99/max of sorted values; NaN when there are none. */
    static double statistic(double[] sorted, String stat) {
        if (sorted.length == 0) {
            return Double.NaN;
        }
        return switch (stat) {
            case "mean" -> Arrays.stream(sorted).average().orElse(Double.NaN);
            case "p50" -> sorted[(int) Math.ceil(0.50 * sorted.length) - 1];
            case "p99" -> sorted[(int) Math.ceil(0.99 * sorted.length) - 1];
            case "max" -> sorted[sorted.length - 1];
            default -> Double.NaN;
        };
    }
}
