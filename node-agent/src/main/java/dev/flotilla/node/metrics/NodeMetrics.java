package dev.flotilla.node.metrics;

import dev.flotilla.contract.v1.VmState;
import dev.flotilla.node.sandbox.Sandbox;
import dev.flotilla.node.sandbox.SandboxManager;
import dev.flotilla.vmm.DeviceIoCounts;
import dev.flotilla.vmm.MicroVm;
import dev.flotilla.vmm.devices.virtio.mmio.MmioTransport;
import dev.flotilla.vmm.vcpu.ExitCounts;
import io.micrometer.core.instrument.FunctionCounter;
import io.micrometer.core.instrument.Gauge;
import io.micrometer.core.instrument.Meter;
import io.micrometer.core.instrument.MeterRegistry;
import io.quarkus.runtime.ShutdownEvent;
import io.quarkus.runtime.StartupEvent;
import jakarta.enterprise.event.Observes;
import jakarta.inject.Inject;
import jakarta.inject.Singleton;

import java.util.EnumMap;
import java.util.Map;
import java.util.List;
import java.util.ArrayList;

/**
 * Node metrics for Prometheus ({@code /q/metrics}), computed when scraped from the sandboxes the manager holds,
 * so the VM paths carry no metric bookkeeping. Aggregates rather than one series per VM: a node with thousands of
 * VMs would otherwise flood the scraper. The boot-time histogram is recorded by {@link SandboxManager}.
 */
@Singleton
public class NodeMetrics {
    /** Names of the meters registered here (see {@link #register}). */
    private static final java.util.Set<String> NAMES = java.util.Set.of("flotilla.node.vms", "flotilla.node.vm.resident.memory",
            "flotilla.node.capacity.vcpus", "flotilla.node.capacity.memory", "flotilla.node.used.vcpus", "flotilla.node.used.memory",
            "flotilla.node.vm.boot.failures", "flotilla.node.device.serial.output", "flotilla.node.device.virtio.chains",
            "flotilla.vm.exits", "flotilla.node.device.block.requests", "flotilla.node.device.block", "flotilla.node.device.net");

    @Inject
    SandboxManager sandboxes;
    @Inject
    MeterRegistry registry;

    /** One scrape's figures, computed once for all gauges of that scrape (gauges are read one by one). */
    private volatile Snapshot snapshot = new Snapshot();
    private volatile long snapshotNanos;

    private static final class Snapshot {
        final Map<VmState, Integer> byState = new EnumMap<>(VmState.class);
        long residentTotal;
        long residentMax;
        int withVm;
        long consoleBytes;
        long virtioChains;
        SandboxManager.VmTotals totals = new SandboxManager.VmTotals(ExitCounts.ZERO, DeviceIoCounts.ZERO);
    }

    /** The meters this bean registered, removed again when the application stops. */
    private final List<Meter> owned = new ArrayList<>();

    /**
     * Registers {@code meter}'s id freshly: a meter left by an earlier application instance in this JVM
     * (tests restart Quarkus) would otherwise be returned instead, still bound to that instance's
     * (weakly referenced, soon collected) state, and vanish from scrapes.
     */
    private void own(Meter meter) {
        owned.add(meter);
    }

    void unregister(@Observes ShutdownEvent event) {
        owned.forEach(registry::remove);
        owned.clear();
    }

    void register(@Observes StartupEvent event) {
        for (Meter stale : registry.getMeters()) {
            if (NAMES.contains(stale.getId().getName())) {
                registry.remove(stale);
            }
        }
        for (VmState s : VmState.values()) {
            if (s == VmState.UNKNOWN) {
                continue;
            }
            own(Gauge.builder("flotilla.node.vms", this, m -> m.fresh().byState.getOrDefault(s, 0))
                    .tag("state", s.name()).description("Sandbox VMs on this node by state").register(registry));
        }
        own(Gauge.builder("flotilla.node.vm.resident.memory", this, m -> m.fresh().residentTotal).baseUnit("bytes")
                .tag("stat", "total").description("Host memory held by guest RAM of running VMs").register(registry));
        own(Gauge.builder("flotilla.node.vm.resident.memory", this, m -> {
            Snapshot s = m.fresh();
            return s.withVm == 0 ? 0 : (double) s.residentTotal / s.withVm;
        }).baseUnit("bytes").tag("stat", "mean").register(registry));
        own(Gauge.builder("flotilla.node.vm.resident.memory", this, m -> m.fresh().residentMax).baseUnit("bytes")
                .tag("stat", "max").register(registry));
        own(Gauge.builder("flotilla.node.capacity.vcpus", sandboxes, s -> s.ledger().capacity().vcpus()).register(registry));
        own(Gauge.builder("flotilla.node.capacity.memory", sandboxes, s -> s.ledger().capacity().memoryMiB()).baseUnit("mebibytes").register(registry));
        own(Gauge.builder("flotilla.node.used.vcpus", sandboxes, s -> s.ledger().usage().vcpus()).register(registry));
        own(Gauge.builder("flotilla.node.used.memory", sandboxes, s -> s.ledger().usage().memoryMiB()).baseUnit("mebibytes").register(registry));
        own(FunctionCounter.builder("flotilla.node.vm.boot.failures", sandboxes, SandboxManager::bootFailures)
                .description("VMs that failed to build, to boot in time, or ended with an error").register(registry));
        own(FunctionCounter.builder("flotilla.node.device.serial.output", this, m -> m.fresh().consoleBytes).baseUnit("bytes")
                .description("Bytes written by guests to their serial consoles (sandboxes present now)").register(registry));
        own(FunctionCounter.builder("flotilla.node.device.virtio.chains", this, m -> m.fresh().virtioChains)
                .description("Virtqueue descriptor chains processed by the running VMs' virtio devices").register(registry));
        registerVmTotals();
    }

    /** Counters over every VM since the agent started, ended ones included, so they never go down. */
    private void registerVmTotals() {
        for (String reason : ExitCounts.REASONS) {
            own(FunctionCounter.builder("flotilla.vm.exits", this, m -> m.fresh().totals.exits().of(reason))
                    .tag("reason", reason)
                    .description("vCPU exits to the VMM by reason (rate: exits per second), over all VMs since start")
                    .register(registry));
        }
        own(FunctionCounter.builder("flotilla.node.device.block.requests", this, m -> m.fresh().totals.deviceIo().blockRequests())
                .description("Requests served by virtio block devices, over all VMs since start").register(registry));
        own(FunctionCounter.builder("flotilla.node.device.block", this, m -> m.fresh().totals.deviceIo().blockBytesRead())
                .baseUnit("bytes").tag("direction", "read")
                .description("Bytes guests read from and wrote to virtio block devices, over all VMs since start").register(registry));
        own(FunctionCounter.builder("flotilla.node.device.block", this, m -> m.fresh().totals.deviceIo().blockBytesWritten())
                .baseUnit("bytes").tag("direction", "written").register(registry));
        own(FunctionCounter.builder("flotilla.node.device.net", this, m -> m.fresh().totals.deviceIo().netRxBytes())
                .baseUnit("bytes").tag("direction", "rx")
                .description("Bytes guests received (rx) and sent (tx) through virtio-net, over all VMs since start").register(registry));
        own(FunctionCounter.builder("flotilla.node.device.net", this, m -> m.fresh().totals.deviceIo().netTxBytes())
                .baseUnit("bytes").tag("direction", "tx").register(registry));
    }

    /** Recomputed at most every 500 ms: one scrape reads a dozen gauges. */
    private Snapshot fresh() {
        long now = System.nanoTime();
        if (now - snapshotNanos < 500_000_000L) {
            return snapshot;
        }
        Snapshot s = new Snapshot();
        for (Sandbox sandbox : sandboxes.all()) {
            s.byState.merge(sandbox.state(), 1, Integer::sum);
            s.consoleBytes += sandbox.console().totalBytes();
            MicroVm vm = sandbox.vm();
            if (vm == null) {
                continue;
            }
            try {
                long resident = vm.residentMemoryBytes();
                s.residentTotal += resident;
                s.residentMax = Math.max(s.residentMax, resident);
                s.withVm++;
                if (sandbox.spec().network()) {
                    MmioTransport t = vm.virtioTransport("net0");
                    for (int q = 0; q < t.queueCount(); q++) {
                        s.virtioChains += t.queueMetrics(q).chainsPopped();
                    }
                }
            } catch (RuntimeException e) {
                // The VM closed while we looked: it no longer counts.
            }
        }
        s.totals = sandboxes.vmTotals();
        snapshot = s;
        snapshotNanos = now;
        return s;
    }
}
