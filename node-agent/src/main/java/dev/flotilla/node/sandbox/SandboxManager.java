package dev.flotilla.node.sandbox;

import com.fasterxml.jackson.databind.ObjectMapper;
import dev.flotilla.contract.v1.KvmKind;
import dev.flotilla.contract.v1.VmState;
import dev.flotilla.containers.GuestWiring;
import dev.flotilla.node.api.ApiException;
import dev.flotilla.node.capacity.Capacity;
import dev.flotilla.node.capacity.ResourceLedger;
import dev.flotilla.node.config.NodeConfig;
import dev.flotilla.node.console.ConsoleBuffer;
import dev.flotilla.node.container.ContainerRuntime;
import dev.flotilla.node.info.HostFacts;
import dev.flotilla.node.network.SandboxNetwork;
import dev.flotilla.node.sandbox.SandboxRecord.NetAttachment;
import dev.flotilla.node.state.StateStore;
import dev.flotilla.node.vm.GuestKind;
import dev.flotilla.node.vm.TinyGuest;
import dev.flotilla.vmm.ExitReason;
import dev.flotilla.vmm.GuestLoader;
import dev.flotilla.vmm.DeviceIoCounts;
import dev.flotilla.vmm.MicroVm;
import dev.flotilla.vmm.vcpu.ExitCounts;
import dev.flotilla.vmm.VmConfig;
import dev.flotilla.vmm.VmException;
import dev.flotilla.vmm.boot.LinuxBoot;
import dev.flotilla.vmm.devices.virtio.net.MacAddress;
import dev.flotilla.vmm.devices.virtio.net.NetDeviceConfig;
import io.micrometer.core.instrument.DistributionSummary;
import io.micrometer.core.instrument.MeterRegistry;
import io.quarkus.runtime.ShutdownEvent;
import io.quarkus.runtime.StartupEvent;
import jakarta.annotation.PostConstruct;
import jakarta.enterprise.event.Observes;
import jakarta.inject.Inject;
import jakarta.inject.Singleton;
import org.eclipse.microprofile.config.inject.ConfigProperty;
import org.jboss.logging.Logger;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Collection;
import java.util.Comparator;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.UUID;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.TimeoutException;
import java.util.concurrent.atomic.AtomicLong;

/**
 * Owns every sandbox VM of this node: admission ({@link ResourceLedger}), building and starting VMs with
 * vmm-engine in this JVM, watching them end, stopping and removing them, and keeping each sandbox's record on
 * disk ({@link StateStore}).
 *
 * <p>Threads: requests run on the caller's (worker) thread; each VM has its vCPU platform threads (the engine's)
 * and one virtual thread here that waits for its boot signal and its end, so the agent adds no platform thread
 * per VM. After a restart, records of VMs that ran under the previous agent process are marked FAILED ("lost")
 * and their taps removed: a VM cannot outlive the JVM it ran in.
 */
@Singleton
public class SandboxManager {
    private static final Logger LOG = Logger.getLogger(SandboxManager.class);
    /** Console output kept per sandbox for late readers. */
    static final int CONSOLE_RETAINED_BYTES = 64 * 1024;
    static final String TINY_IMAGE_FILE = "tiny-guest.bin";

    @Inject
    NodeConfig config;
    @Inject
    ObjectMapper json;
    @Inject
    ContainerRuntime containers;
    @Inject
    MeterRegistry registry;
    @ConfigProperty(name = "quarkus.http.port", defaultValue = "7070")
    int httpPort;

    private final Map<String, Sandbox> byId = new ConcurrentHashMap<>();
    private final Map<String, Sandbox> byName = new ConcurrentHashMap<>();
    /** Serialises the name/id check-and-insert; VM building happens outside it. */
    private final Object admission = new Object();
    private final String instance = UUID.randomUUID().toString();
    private final AtomicLong bootFailures = new AtomicLong();
    /*
     * Counts of VMs that ended, so node totals never go down when a VM goes. A VM moves from
     * liveVms into these in one step under tallyLock, and readers sum under the same lock: a
     * scrape never sees a VM in both or in neither. Lock order: tallyLock, then a sandbox.
     */
    private final Object tallyLock = new Object();
    private final Set<MicroVm> liveVms = new HashSet<>();
    private ExitCounts endedExits = ExitCounts.ZERO;
    private DeviceIoCounts endedDeviceIo = DeviceIoCounts.ZERO;
    private HostFacts host;
    private ResourceLedger ledger;
    private StateStore store;
    private SandboxNetwork network;
    private Path tinyImage;
    private byte[] tinyProgram;
    private DistributionSummary bootTimes;
    private volatile boolean shuttingDown;
    private List<String> recoveryReport = List.of();

    @PostConstruct
    void init() {
        host = HostFacts.detect();
        NodeConfig.Capacity c = config.capacity();
        int vcpus = (int) Math.floor(host.cpus() * c.cpuOvercommit());
        long memory = (long) Math.floor(Math.max(0, host.memoryMiB() - c.reservedMemoryMib()) * c.memoryOvercommit());
        ledger = new ResourceLedger(new Capacity(vcpus, memory, c.maxVms()));
        Path stateDir = Path.of(config.stateDir());
        store = new StateStore(stateDir, json, config.stateFsync());
        network = new SandboxNetwork(config.network(), httpPort);
        try {
            tinyImage = TinyGuest.writeImage(stateDir.resolve(TINY_IMAGE_FILE));
            tinyProgram = Files.readAllBytes(tinyImage);
        } catch (IOException e) {
            throw new UncheckedIOException("cannot write the tiny guest image under " + stateDir + ": " + e.getMessage(), e);
        }
        bootTimes = DistributionSummary.builder("flotilla.node.vm.boot.time").baseUnit("milliseconds")
                .description("Time from the start request of a sandbox VM to its guest's boot-timer write")
                .publishPercentiles(0.5, 0.9, 0.99).publishPercentileHistogram()
                .minimumExpectedValue(0.1).maximumExpectedValue(120_000.0).register(registry);
        recoveryReport = recover();
    }

    void onStart(@Observes StartupEvent event) {
        for (String line : recoveryReport) {
            LOG.warn(line);
        }
        LOG.infof("node agent: KVM %s; capacity %d vCPUs, %d MiB, %d VMs; state in %s", host.kvmKind(),
                ledger.capacity().vcpus(), ledger.capacity().memoryMiB(), ledger.capacity().maxVms(), config.stateDir());
        if (host.kvmKind() != KvmKind.NONE) {
            try {
                MicroVm.warmUp();
            } catch (VmException e) {
                LOG.warnf("KVM warm-up failed: %s", e.getMessage());
            }
        }
    }

    /** Loads the records of the previous agent process; VMs it ran are gone, so they are reported lost. */
    private List<String> recover() {
        List<String> report = new ArrayList<>();
        for (SandboxRecord r : store.loadAll()) {
            Sandbox s = Sandbox.fromRecord(r, new ConsoleBuffer(CONSOLE_RETAINED_BYTES));
            if (r.state() == VmState.STARTING || r.state() == VmState.RUNNING || r.state() == VmState.STOPPING) {
                String tap = r.network() == null ? "" : " (tap " + r.network().tap() + " removed)";
                s.state = VmState.FAILED;
                s.message = "lost: the VM ran in a previous node-agent process that ended without stopping it" + tap;
                s.endedAt = Instant.now();
                if (r.network() != null && !usesCni(r.spec())) {
                    network.detach(r.network());
                }
                s.network = null;
                store.save(s.toRecord());
                report.add("sandbox " + r.spec().id() + " (" + r.spec().name() + ") was " + r.state()
                        + " under the previous agent process: reported lost" + tap);
            }
            byId.put(s.spec.id(), s);
            byName.put(s.spec.name(), s);
        }
        if (network.enabled()) {
            List<String> removed = network.removeOrphanTaps(Set.of());
            if (!removed.isEmpty()) {
                report.add("removed leftover taps " + removed);
            }
        }
        return report;
    }

    public HostFacts host() {
        return host;
    }

    public ResourceLedger ledger() {
        return ledger;
    }

    public SandboxNetwork network() {
        return network;
    }

    public String instance() {
        return instance;
    }

    public long bootFailures() {
        return bootFailures.get();
    }

    /** Node totals since start, over ended and running VMs. */
    public record VmTotals(ExitCounts exits, DeviceIoCounts deviceIo) {}

    /** vCPU exits and device I/O of every VM this node ran since start; never decreases. */
    public VmTotals vmTotals() {
        synchronized (tallyLock) {
            ExitCounts exits = endedExits;
            DeviceIoCounts io = endedDeviceIo;
            for (MicroVm vm : liveVms) {
                exits = exits.plus(vm.exitCounts());
                io = io.plus(vm.deviceIoCounts());
            }
            return new VmTotals(exits, io);
        }
    }

    /** Every sandbox, oldest first. */
    public List<Sandbox> list() {
        List<Sandbox> all = new ArrayList<>(byId.values());
        all.sort(Comparator.comparing((Sandbox s) -> s.createdAt).thenComparing(s -> s.spec.id()));
        return all;
    }

    public Collection<Sandbox> all() {
        return byId.values();
    }

    /** By id, else by name. */
    public Optional<Sandbox> find(String ref) {
        Sandbox s = byId.get(ref);
        return s != null ? Optional.of(s) : Optional.ofNullable(byName.get(ref));
    }

    public Sandbox get(String ref) {
        return find(ref).orElseThrow(() -> ApiException.notFound("sandbox " + ref));
    }

    public record Launched(Sandbox sandbox, boolean created) {
    }

    /**
     * Creates and starts a sandbox. Idempotent per id: an existing sandbox with the same id and generation is
     * returned as it is; a higher generation replaces it (the contract's "recreate").
     */
    public Launched launch(SandboxSpec spec) {
        if (shuttingDown) {
            throw new ApiException(503, "the node agent is shutting down and takes no new sandboxes");
        }
        Sandbox existing = byId.get(spec.id());
        if (existing != null) {
            if (spec.generation() <= existing.spec.generation()) {
                return new Launched(existing, false);
            }
            LOG.infof("sandbox %s: generation %d replaces %d", spec.id(), spec.generation(), existing.spec.generation());
            delete(spec.id());
        }
        checkGuest(spec);
        Optional<Path> rootImage = containers.prepare(spec);
        Sandbox sandbox;
        synchronized (admission) {
            Sandbox again = byId.get(spec.id());
            if (again != null) {
                return new Launched(again, false);
            }
            Sandbox sameName = byName.get(spec.name());
            if (sameName != null) {
                throw new ApiException(409, "a sandbox named %s already exists on this node (id %s)"
                        .formatted(spec.name(), sameName.spec.id()));
            }
            ledger.reserve(spec.name(), spec.vcpus(), spec.memoryMiB());
            sandbox = new Sandbox(spec, Instant.now(), new ConsoleBuffer(CONSOLE_RETAINED_BYTES), instance);
            sandbox.holdsResources = true;
            byId.put(spec.id(), sandbox);
            byName.put(spec.name(), sandbox);
        }
        boot(sandbox, rootImage);
        return new Launched(sandbox, true);
    }

    private void checkGuest(SandboxSpec spec) {
        if (host.kvmKind() == KvmKind.NONE) {
            throw new ApiException(503, "this node cannot run VMs: " + host.kvmSentence());
        }
        if (spec.guest() == GuestKind.LINUX) {
            if (host.kvmKind() != KvmKind.HARDWARE && !config.guests().allowLinuxOnPvm()) {
                throw new ApiException(422, "sandbox %s asks for a Linux guest, but this host's KVM is %s: %s Use guest 'tiny' here, or run the agent on a host with VT-x/AMD-V (or inside the lab)."
                        .formatted(spec.name(), host.kvmKind().name().toLowerCase(java.util.Locale.ROOT), host.kvmSentence()));
            }
            if (config.guests().linuxKernel().isEmpty() || !Files.isReadable(Path.of(config.guests().linuxKernel().get()))) {
                throw new ApiException(422, "sandbox %s asks for a Linux guest, but this agent has no readable guest kernel (flotilla.node.guests.linux-kernel = %s; build it with ./flotilla guest all)"
                        .formatted(spec.name(), config.guests().linuxKernel().orElse("unset")));
            }
        }
    }

    /** Builds and starts the VM; on failure the sandbox ends FAILED with the reason and its resources are freed. */
    private void boot(Sandbox sandbox, Optional<Path> rootImage) {
        SandboxSpec spec = sandbox.spec;
        MicroVm vm = null;
        try {
            synchronized (sandbox) {
                store.save(sandbox.toRecord());
            }
            boolean cni = usesCni(spec);
            NetAttachment net = cni ? spec.pod().cni() : spec.network() ? attachNetwork(spec) : null;
            synchronized (sandbox) {
                sandbox.network = net;
            }
            VmConfig.Builder b = VmConfig.builder().vcpus(spec.vcpus()).memoryMib((int) spec.memoryMiB())
                    .consoleOutput(sandbox.console);
            GuestLoader loader;
            if (spec.guest() == GuestKind.TINY) {
                b.kernel(tinyImage).cmdline("");
                loader = TinyGuest.loader(tinyProgram, "flotilla tiny guest " + spec.name() + " (" + spec.id() + ") is up\r\n");
            } else {
                b.kernel(Path.of(config.guests().linuxKernel().get()));
                config.guests().linuxInitrd().map(Path::of).ifPresent(b::initrd);
                String cmdline = config.guests().linuxCmdline() + " " + spec.kernelArgs();
                b.cmdline(cmdline.strip());
                loader = LinuxBoot::load;
            }
            if (net != null) {
                b.device(NetDeviceConfig.of(net.tap()).withMac(MacAddress.parse(net.mac())));
            }
            if (rootImage.isPresent()) {
                // The image as a read-only disk, vsock for the guest agent, and init told to run that agent.
                GuestWiring.attach(b, rootImage.get());
                b.cmdline(GuestWiring.cmdline(config.guests().linuxCmdline() + " " + spec.kernelArgs()));
            }
            vm = MicroVm.create(b.build(), loader);
            if (cni) {
                // The VM holds its tap now: into the pod's namespace with it, joined to the CNI interface.
                SandboxNetwork.joinPodNamespace(net.tap(), spec.pod().netns());
            }
            synchronized (tallyLock) {
                synchronized (sandbox) {
                    if (sandbox.state != VmState.STARTING) {
                        // Deleted or stopped while it was being built.
                        vm.close();
                        return;
                    }
                    sandbox.vm = vm;
                    sandbox.startedAt = Instant.now();
                    liveVms.add(vm); // before start: every exit it makes is counted
                    vm.start();
                }
            }
            MicroVm started = vm;
            Thread.ofVirtual().name("watch-" + spec.id()).start(() -> watch(sandbox, started));
        } catch (VmException | RuntimeException e) {
            bootFailures.incrementAndGet();
            if (vm != null) {
                try {
                    vm.close();
                } catch (RuntimeException closeFailure) {
                    e.addSuppressed(closeFailure);
                }
            }
            LOG.warnf("sandbox %s failed to start: %s", spec.id(), e.getMessage());
            end(sandbox, VmState.FAILED, "the VM could not start: " + e.getMessage());
        }
    }

    /** A CRI pod on a CNI network: its tap and address are the pod's, not the agent bridge's. */
    private static boolean usesCni(SandboxSpec spec) {
        return spec.pod() != null && spec.pod().cni() != null;
    }

    private NetAttachment attachNetwork(SandboxSpec spec) {
        if (!network.enabled()) {
            throw new IllegalStateException("sandbox networking is disabled on this node (flotilla.node.network.enabled=false)");
        }
        return network.attach();
    }

    /** Waits (on a virtual thread) for the guest's boot signal, then for the VM's end. */
    private void watch(Sandbox sandbox, MicroVm vm) {
        Duration poll = Duration.ofMillis(2);
        long deadline = System.nanoTime() + config.guests().bootTimeout().toNanos();
        try {
            while (vm.bootTimeNanos().isEmpty()) {
                Optional<ExitReason> ended = vm.awaitExit(poll);
                if (ended.isPresent()) {
                    vmEnded(sandbox, vm, ended.get(), "before its guest signalled boot");
                    return;
                }
                if (System.nanoTime() > deadline) {
                    bootFailures.incrementAndGet();
                    stopVm(sandbox, VmState.FAILED, "the guest did not signal boot within " + config.guests().bootTimeout().toSeconds() + " s");
                    return;
                }
                // A pod's start is what the kubelet waits for: its boot is noticed within 4 ms, others' within 100.
                Duration cap = sandbox.spec.pod() != null ? Duration.ofMillis(4) : Duration.ofMillis(100);
                poll = poll.compareTo(cap) < 0 ? poll.multipliedBy(2) : poll;
            }
            double bootMs = vm.bootTimeNanos().getAsLong() / 1e6;
            bootTimes.record(bootMs);
            synchronized (sandbox) {
                if (sandbox.vm == vm && sandbox.state == VmState.STARTING) {
                    sandbox.bootTimeMillis = Math.round(bootMs);
                    sandbox.state = VmState.RUNNING;
                    persist(sandbox);
                }
            }
            if (sandbox.spec.image() != null) {
                containers.started(sandbox.spec, vm, Optional.ofNullable(sandbox.network), (failed, message) -> {
                    synchronized (sandbox) {
                        if (sandbox.vm != vm) {
                            return;
                        }
                    }
                    stopVm(sandbox, failed ? VmState.FAILED : VmState.STOPPED, message);
                });
            }
            ExitReason reason = vm.awaitExit();
            vmEnded(sandbox, vm, reason, null);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        } catch (RuntimeException e) {
            LOG.errorf(e, "watching sandbox %s failed", sandbox.spec.id());
        }
    }

    private void vmEnded(Sandbox sandbox, MicroVm vm, ExitReason reason, String when) {
        synchronized (sandbox) {
            if (sandbox.vm != vm || sandbox.state == VmState.STOPPING) {
                return; // a stop or delete is already ending it
            }
        }
        if (reason instanceof ExitReason.StoppedByHost) {
            return;
        }
        boolean failed = reason instanceof ExitReason.Error || when != null;
        if (failed) {
            bootFailures.incrementAndGet();
        }
        stopVm(sandbox, failed ? VmState.FAILED : VmState.STOPPED,
                "the VM ended" + (when == null ? "" : " " + when) + ": " + reason.describe());
    }

    /** Stops a sandbox's VM (if it runs) and frees what it held; answers its state afterwards. */
    public Sandbox stop(String ref) {
        Sandbox sandbox = get(ref);
        stopVm(sandbox, VmState.STOPPED, "stopped on request");
        return sandbox;
    }

    private void stopVm(Sandbox sandbox, VmState finalState, String message) {
        MicroVm vm;
        synchronized (sandbox) {
            if (sandbox.state == VmState.STOPPED || sandbox.state == VmState.FAILED || sandbox.state == VmState.STOPPING) {
                return;
            }
            vm = sandbox.vm;
            sandbox.state = VmState.STOPPING;
        }
        if (vm != null) {
            try {
                vm.close();
            } catch (RuntimeException e) {
                LOG.errorf("sandbox %s: releasing its VM failed: %s", sandbox.spec.id(), e.getMessage());
                finalState = VmState.FAILED;
                message = message + "; releasing the VM failed: " + e.getMessage();
            }
        }
        end(sandbox, finalState, message);
    }

    /** The final transition: resources, tap and address released once; the record persisted. */
    private void end(Sandbox sandbox, VmState finalState, String message) {
        if (sandbox.spec.image() != null) {
            containers.ended(sandbox.spec.id());
        }
        NetAttachment net;
        boolean release;
        synchronized (tallyLock) {
            MicroVm ended;
            synchronized (sandbox) {
                sandbox.state = finalState;
                sandbox.message = message;
                sandbox.endedAt = Instant.now();
                ended = sandbox.vm;
                sandbox.vm = null;
                net = sandbox.network;
                sandbox.network = null;
                release = sandbox.holdsResources;
                sandbox.holdsResources = false;
            }
            if (ended != null && liveVms.remove(ended)) {
                // Closed by now (stopVm closes before ending), so these counts are final.
                endedExits = endedExits.plus(ended.exitCounts());
                endedDeviceIo = endedDeviceIo.plus(ended.deviceIoCounts());
            }
        }
        if (release) {
            ledger.release(sandbox.spec.vcpus(), sandbox.spec.memoryMiB());
        }
        if (net != null && !usesCni(sandbox.spec)) {
            try {
                network.detach(net);
            } catch (RuntimeException e) {
                LOG.warnf("sandbox %s: removing tap %s failed: %s", sandbox.spec.id(), net.tap(), e.getMessage());
            }
        }
        if (byId.get(sandbox.spec.id()) == sandbox) {
            persist(sandbox);
        }
    }

    /** A state change: atomic, not fsynced (see {@link StateStore#save(SandboxRecord, boolean)}). */
    private void persist(Sandbox sandbox) {
        try {
            store.save(sandbox.toRecord(), false);
        } catch (UncheckedIOException e) {
            LOG.error(e.getMessage());
        }
    }

    /** Stops (if needed) and forgets a sandbox; false when there was none. */
    public boolean delete(String ref) {
        Optional<Sandbox> found = find(ref);
        if (found.isEmpty()) {
            return false;
        }
        Sandbox sandbox = found.get();
        synchronized (admission) {
            byId.remove(sandbox.spec.id(), sandbox);
            byName.remove(sandbox.spec.name(), sandbox);
        }
        stopVm(sandbox, VmState.STOPPED, "deleted");
        if (sandbox.spec.image() != null) {
            containers.deleted(sandbox.spec.id());
        }
        store.delete(sandbox.spec.id());
        return true;
    }

    /** Graceful shutdown: every VM is stopped (in parallel) and recorded as stopped by the shutdown, not lost. */
    void onStop(@Observes ShutdownEvent event) {
        shuttingDown = true;
        List<Thread> stoppers = new ArrayList<>();
        for (Sandbox s : byId.values()) {
            if (s.vm() != null) {
                stoppers.add(Thread.ofVirtual().start(() -> stopVm(s, VmState.STOPPED, "stopped because the node agent shut down")));
            }
        }
        for (Thread t : stoppers) {
            try {
                t.join(Duration.ofSeconds(20));
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                break;
            }
        }
        if (!stoppers.isEmpty()) {
            LOG.infof("stopped %d VMs for shutdown", stoppers.size());
        }
    }

    /** A fresh id for sandboxes created through the node's own API. */
    public static String newId() {
        return "sb-" + UUID.randomUUID().toString().replace("-", "").substring(0, 20);
    }

    /** Names in use (for tests and the CLI). */
    public Set<String> names() {
        return new HashSet<>(byName.keySet());
    }

}
