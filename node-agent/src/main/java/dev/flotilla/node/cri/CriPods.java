package dev.flotilla.node.cri;

import dev.flotilla.agent.client.AgentException;
import dev.flotilla.agent.client.ProcessListener;
import dev.flotilla.agent.protocol.ExitStatus;
import dev.flotilla.agent.protocol.Resources;
import dev.flotilla.agent.protocol.Stats;
import dev.flotilla.agent.protocol.Stream;
import dev.flotilla.containers.ContainerException;
import dev.flotilla.containers.ContainerLog;
import dev.flotilla.containers.ContainerSandbox;
import dev.flotilla.containers.ProcessTemplate;
import dev.flotilla.contract.v1.VmState;
import dev.flotilla.cri.CriException;
import dev.flotilla.cri.backend.ContainerBackend;
import dev.flotilla.cri.backend.AttachBackend;
import dev.flotilla.cri.backend.ExecBackend;
import dev.flotilla.cri.backend.PortForwardBackend;
import dev.flotilla.cri.backend.PodSandboxBackend;
import dev.flotilla.cri.logs.ContainerLogs;
import dev.flotilla.cri.logs.CriLogWriter;
import dev.flotilla.cri.logs.LogStream;
import dev.flotilla.cri.v1.Container;
import dev.flotilla.cri.v1.ContainerAttributes;
import dev.flotilla.cri.v1.ContainerConfig;
import dev.flotilla.cri.v1.ContainerState;
import dev.flotilla.cri.v1.ContainerStats;
import dev.flotilla.cri.v1.ContainerStatus;
import dev.flotilla.cri.v1.ContainerStatusResponse;
import dev.flotilla.cri.v1.CpuUsage;
import dev.flotilla.cri.v1.CreateContainerRequest;
import dev.flotilla.cri.v1.AttachRequest;
import dev.flotilla.cri.v1.ExecRequest;
import dev.flotilla.cri.v1.ExecSyncResponse;
import dev.flotilla.cri.v1.ImageSpec;
import dev.flotilla.cri.v1.ContainerResources;
import dev.flotilla.cri.v1.LinuxContainerResources;
import dev.flotilla.cri.v1.LinuxPodSandboxStats;
import dev.flotilla.cri.v1.LinuxPodSandboxStatus;
import dev.flotilla.cri.v1.MemoryUsage;
import dev.flotilla.cri.v1.Namespace;
import dev.flotilla.cri.v1.PodSandbox;
import dev.flotilla.cri.v1.PodSandboxAttributes;
import dev.flotilla.cri.v1.PodSandboxConfig;
import dev.flotilla.cri.v1.PodSandboxNetworkStatus;
import dev.flotilla.cri.v1.PortForwardRequest;
import dev.flotilla.cri.v1.PodSandboxState;
import dev.flotilla.cri.v1.PodSandboxStats;
import dev.flotilla.cri.v1.PodSandboxStatus;
import dev.flotilla.cri.v1.PodSandboxStatusResponse;
import dev.flotilla.cri.v1.RunPodSandboxRequest;
import dev.flotilla.cri.v1.UInt64Value;
import dev.flotilla.cri.v1.UpdateContainerResourcesRequest;
import dev.flotilla.images.Digest;
import dev.flotilla.images.Image;
import dev.flotilla.node.api.ApiException;
import dev.flotilla.node.config.NodeConfig;
import dev.flotilla.node.cri.cni.CniNetwork;
import dev.flotilla.node.container.ImageContainerRuntime;
import dev.flotilla.node.sandbox.Sandbox;
import dev.flotilla.node.sandbox.SandboxManager;
import dev.flotilla.node.sandbox.SandboxRecord;
import dev.flotilla.node.sandbox.SandboxSpec;
import dev.flotilla.node.vm.GuestKind;
import dev.flotilla.vmm.MicroVm;
import org.jboss.logging.Logger;

import java.io.IOException;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.UnknownHostException;
import java.nio.file.Path;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import java.util.concurrent.atomic.AtomicLong;

/**
 * Pod sandboxes and their containers. A pod is one sandbox of the {@link SandboxManager} (its id is the CRI id);
 * its containers are created through the guest agent of that sandbox's VM ({@link ImageContainerRuntime}), their
 * output written to the kubelet's log files in the CRI format.
 *
 * <p>CRI state (metadata, labels, container states) is kept in memory: after an agent restart the VMs are gone
 * anyway, the pods' sandboxes are removed at start and the kubelet creates the pods again.
 */
public final class CriPods implements PodSandboxBackend, ContainerBackend, ExecBackend, PortForwardBackend, AttachBackend {
    private static final Logger LOG = Logger.getLogger(CriPods.class);
    private static final long MIB = 1024 * 1024;
    /** After SIGKILL, how long a container's exit may take to reach us before StopContainer gives up. */
    private static final Duration KILL_WAIT = Duration.ofSeconds(10);

    private final SandboxManager manager;
    private final ImageContainerRuntime runtime;
    private final CriImages images;
    private final ContainerLogs logs;
    private final NodeConfig config;
    private final GuestKind guest;
    /** The node's CNI network when pods get theirs from CNI (flotilla.node.cri.pod-network=cni), else null. */
    private final CniNetwork cni;
    private final Map<String, Pod> pods = new ConcurrentHashMap<>();
    private final Map<String, Ctr> containers = new ConcurrentHashMap<>();
    private final AtomicLong execIds = new AtomicLong();

    public CriPods(SandboxManager manager, ImageContainerRuntime runtime, CriImages images, ContainerLogs logs,
                   NodeConfig config) {
        this.manager = manager;
        this.runtime = runtime;
        this.images = images;
        this.logs = logs;
        this.config = config;
        this.guest = guestKind(config.cri().guest());
        this.cni = switch (config.cri().podNetwork()) {
            case "cni" -> new CniNetwork(Path.of(config.cri().cniConfDir()), config.cri().cniBinDirs().stream()
                    .map(Path::of).toList());
            case "agent" -> null;
            default -> throw new IllegalArgumentException("flotilla.node.cri.pod-network is '"
                    + config.cri().podNetwork() + "'; it must be cni or agent");
        };
    }

    static GuestKind guestKind(String name) {
        return switch (name) {
            case "linux" -> GuestKind.LINUX;
            case "tiny" -> GuestKind.TINY;
            default -> throw new IllegalArgumentException("flotilla.node.cri.guest is '" + name
                    + "'; it must be linux or tiny");
        };
    }

    GuestKind guest() {
        return guest;
    }

    /** Pod sandboxes left by a previous agent process: their VMs died with it and the kubelet recreates the pods. */
    int removeLeftovers() {
        int removed = 0;
        for (Sandbox s : manager.list()) {
            if (s.spec().pod() != null && !pods.containsKey(s.spec().id())) {
                manager.delete(s.spec().id());
                SandboxSpec.PodSettings pod = s.spec().pod();
                if (cni != null && pod.netns() != null) {
                    try {
                        // Without the ADD result (it was in memory): plugins release by container id.
                        cni.del(new CniNetwork.Attachment(pod.netns(), "", null, null, "{}", ""),
                                new CniNetwork.PodRef(s.spec().id(), "", "", ""));
                    } catch (RuntimeException e) {
                        LOG.warnf("CRI: the CNI network of a previous agent's pod %s was not fully released: %s",
                                s.spec().id(), e.getMessage());
                    }
                }
                removed++;
            }
        }
        return removed;
    }

    // ------------------------------------------------------------------ pod sandboxes

    /** One pod: its request, its size and, once launched, the manager's sandbox holding its VM. */
    private static final class Pod {
        final String id;
        final PodSandboxConfig config;
        final String runtimeHandler;
        final long createdAt = nanos(Instant.now());
        final int vcpus;
        final long memoryMiB;
        volatile boolean stopped;
        /** Set once the VM was launched (under {@code this}); for Linux pods the image of its root disk. */
        volatile boolean launched;
        volatile Digest vmImage;
        /** The pod's CNI network from RunPodSandbox until StopPodSandbox, with the CNI mode. */
        volatile CniNetwork.Attachment network;

        Pod(String id, PodSandboxConfig config, String runtimeHandler, int vcpus, long memoryMiB) {
            this.id = id;
            this.config = config;
            this.runtimeHandler = runtimeHandler;
            this.vcpus = vcpus;
            this.memoryMiB = memoryMiB;
        }
    }

    @Override
    public void runPodSandbox(String sandboxId, RunPodSandboxRequest request) {
        PodSandboxConfig cfg = request.getConfig();
        LinuxContainerResources limits = cfg.getLinux().getResources();
        int vcpus = config.cri().defaultVcpus();
        if (limits.getCpuQuota() > 0 && limits.getCpuPeriod() > 0) {
            vcpus = (int) Math.max(1, (limits.getCpuQuota() + limits.getCpuPeriod() - 1) / limits.getCpuPeriod());
        }
        long podMemory = limits.getMemoryLimitInBytes() > 0 ? (limits.getMemoryLimitInBytes() + MIB - 1) / MIB : 0;
        long memoryMiB = guest == GuestKind.TINY ? Math.max(16, podMemory) : config.cri().baseMemoryMib() + podMemory;
        var capacity = manager.ledger().capacity();
        if (vcpus > capacity.vcpus() || memoryMiB > capacity.memoryMiB()) {
            throw new CriException(CriException.Reason.RESOURCE_EXHAUSTED, "pod " + podName(cfg) + " needs a microVM "
                    + "of " + vcpus + " vCPUs and " + memoryMiB + " MiB, more than this node offers in total ("
                    + capacity.vcpus() + " vCPUs, " + capacity.memoryMiB() + " MiB after overcommit)");
        }
        Pod pod = new Pod(sandboxId, cfg, request.getRuntimeHandler(), vcpus, memoryMiB);
        if (guest == GuestKind.LINUX) {
            // The VM is built with the first container's image; refuse now what could never boot.
            CriReadiness.whyLinuxCannotRun(manager, config).ifPresent(why -> {
                throw CriException.failedPrecondition("pod " + podName(cfg) + " cannot run here: " + why);
            });
        }
        synchronized (pod) {
            if (cni != null) {
                // The kubelet reads the pod's IP right after RunPodSandbox: the network comes first, the VM later.
                try {
                    pod.network = cni.add(podRef(pod));
                } catch (RuntimeException e) {
                    throw new CriException(CriException.Reason.UNAVAILABLE, "pod " + podName(cfg) + ": its CNI network "
                            + "could not be set up: " + e.getMessage());
                }
            }
            pods.put(sandboxId, pod);
            if (guest == GuestKind.LINUX) {
                return;
            }
            try {
                launch(pod, null);
            } catch (RuntimeException e) {
                pods.remove(sandboxId);
                releaseNetwork(pod);
                throw e;
            }
        }
    }

    private static CniNetwork.PodRef podRef(Pod pod) {
        var meta = pod.config.getMetadata();
        return new CniNetwork.PodRef(pod.id, meta.getNamespace(), meta.getName(), meta.getUid());
    }

    /** CNI DEL once (StopPodSandbox, RemovePodSandbox, a failed start): the kubelet expects the address back. */
    private void releaseNetwork(Pod pod) {
        CniNetwork.Attachment net;
        synchronized (pod) {
            net = pod.network;
            pod.network = null;
        }
        if (net != null) {
            try {
                cni.del(net, podRef(pod));
            } catch (RuntimeException e) {
                LOG.warnf("CRI: releasing the CNI network of pod %s failed: %s", pod.id, e.getMessage());
            }
        }
    }

    /** Launches the pod's VM and waits until it runs (Linux: until its guest agent answers). Caller holds the pod. */
    private void launch(Pod pod, Image image) {
        CniNetwork.Attachment net = pod.network;
        SandboxSpec.PodSettings settings = net == null ? new SandboxSpec.PodSettings(pod.config.getHostname())
                : new SandboxSpec.PodSettings(pod.config.getHostname(), new SandboxRecord.NetAttachment(
                        "flt" + pod.id.substring(0, 11), net.ip(), net.prefixLength(), net.gateway(), net.mac()), net.netns());
        SandboxSpec spec = new SandboxSpec(pod.id, "pod-" + pod.id.substring(0, 32), guest,
                image == null ? null : image.reference().toString(), List.of(), pod.vcpus, pod.memoryMiB,
                Map.of(), 0, cni == null && manager.network().enabled(), "", settings);
        try {
            manager.launch(spec);
        } catch (ApiException e) {
            throw CriErrors.from(e);
        }
        pod.launched = true;
        pod.vmImage = image == null ? null : image.manifestDigest();
        Duration limit = config.guests().bootTimeout().plus(config.containers().agentTimeout()).plusSeconds(5);
        long deadline = System.nanoTime() + limit.toNanos();
        while (true) {
            Sandbox s = manager.find(pod.id).orElseThrow(() -> CriException.notFound("pod sandbox " + pod.id
                    + " was removed while its microVM was starting"));
            VmState state = s.state();
            if (state == VmState.FAILED || state == VmState.STOPPED) {
                String why = s.toRecord().message();
                manager.delete(pod.id);
                pod.launched = false;
                throw new CriException(CriException.Reason.UNAVAILABLE, "the microVM of pod " + podName(pod.config)
                        + " did not start: " + why);
            }
            if (state == VmState.RUNNING && (image == null || agentReady(spec))) {
                return;
            }
            if (System.nanoTime() > deadline) {
                manager.delete(pod.id);
                pod.launched = false;
                throw new CriException(CriException.Reason.DEADLINE_EXCEEDED, "the microVM of pod "
                        + podName(pod.config) + " was not ready within " + limit.toSeconds() + " s");
            }
            try {
                Thread.sleep(2);
            } catch (InterruptedException e) {
                throw CriErrors.interrupted("starting pod " + podName(pod.config));
            }
        }
    }

    private boolean agentReady(SandboxSpec spec) {
        try {
            runtime.containers(spec);
            return true;
        } catch (ApiException notYet) {
            return false;
        }
    }

    @Override
    public boolean stopPodSandbox(String sandboxId) {
        Pod pod = pods.get(sandboxId);
        if (pod == null) {
            return false;
        }
        pod.stopped = true;
        // Recorded before the VM goes, so that they read "stopped" rather than "guest agent went away".
        for (Ctr c : containersOf(sandboxId)) {
            c.vmEnded("the pod sandbox was stopped");
        }
        if (manager.find(sandboxId).isPresent()) {
            manager.stop(sandboxId);
        }
        releaseNetwork(pod);
        return true;
    }

    @Override
    public boolean removePodSandbox(String sandboxId) {
        Pod pod = pods.remove(sandboxId);
        for (Ctr c : containersOf(sandboxId)) {
            containers.remove(c.id);
            c.vmEnded("the pod sandbox was removed");
            closeLog(c.id);
        }
        boolean hadVm = manager.delete(sandboxId);
        if (pod != null) {
            releaseNetwork(pod);
        }
        return pod != null || hadVm;
    }

    @Override
    public Optional<PodSandboxStatusResponse> podSandboxStatus(String sandboxId, boolean verbose) {
        Pod pod = pods.get(sandboxId);
        if (pod == null) {
            return Optional.empty();
        }
        Optional<SandboxRecord> vm = manager.find(sandboxId).map(Sandbox::toRecord);
        PodSandboxStatus.Builder status = PodSandboxStatus.newBuilder()
                .setId(pod.id)
                .setMetadata(pod.config.getMetadata())
                .setState(state(pod))
                .setCreatedAt(pod.createdAt)
                .setLinux(LinuxPodSandboxStatus.newBuilder().setNamespaces(Namespace.newBuilder()
                        .setOptions(pod.config.getLinux().getSecurityContext().getNamespaceOptions())))
                .putAllLabels(pod.config.getLabelsMap())
                .putAllAnnotations(pod.config.getAnnotationsMap())
                .setRuntimeHandler(pod.runtimeHandler);
        CniNetwork.Attachment cniNet = pod.network;
        if (cniNet != null) {
            status.setNetwork(PodSandboxNetworkStatus.newBuilder().setIp(cniNet.ip()));
        } else {
            vm.map(SandboxRecord::network).ifPresent(net ->
                    status.setNetwork(PodSandboxNetworkStatus.newBuilder().setIp(net.address())));
        }
        PodSandboxStatusResponse.Builder response = PodSandboxStatusResponse.newBuilder().setStatus(status)
                .setTimestamp(nanos(Instant.now()));
        containersOf(sandboxId).forEach(c -> response.addContainersStatuses(c.status()));
        if (verbose) {
            response.putInfo("vm", vm.map(r -> "{\"sandbox\":\"" + r.spec().name() + "\",\"state\":\"" + r.state()
                    + "\",\"guest\":\"" + r.spec().guest().name().toLowerCase(java.util.Locale.ROOT)
                    + "\",\"vcpus\":" + r.spec().vcpus() + ",\"memoryMiB\":" + r.spec().memoryMiB()
                    + (r.bootTimeMillis() == null ? "" : ",\"bootTimeMillis\":" + r.bootTimeMillis()) + "}")
                    .orElse("{\"state\":\"not started\",\"vcpus\":" + pod.vcpus + ",\"memoryMiB\":" + pod.memoryMiB
                            + "}"));
        }
        return Optional.of(response.build());
    }

    /** Ready until stopped, unless its VM ended by itself (a failed boot, a lost guest agent). */
    private PodSandboxState state(Pod pod) {
        if (pod.stopped) {
            return PodSandboxState.SANDBOX_NOTREADY;
        }
        if (!pod.launched) {
            return PodSandboxState.SANDBOX_READY;
        }
        VmState vm = manager.find(pod.id).map(Sandbox::state).orElse(VmState.STOPPED);
        return vm == VmState.STARTING || vm == VmState.RUNNING ? PodSandboxState.SANDBOX_READY
                : PodSandboxState.SANDBOX_NOTREADY;
    }

    @Override
    public List<PodSandbox> listPodSandboxes() {
        return pods.values().stream().sorted(Comparator.comparingLong(p -> p.createdAt))
                .map(p -> PodSandbox.newBuilder().setId(p.id).setMetadata(p.config.getMetadata()).setState(state(p))
                        .setCreatedAt(p.createdAt).putAllLabels(p.config.getLabelsMap())
                        .putAllAnnotations(p.config.getAnnotationsMap()).setRuntimeHandler(p.runtimeHandler).build())
                .toList();
    }

    @Override
    public Optional<PodSandboxStats> podSandboxStats(String sandboxId) {
        Pod pod = pods.get(sandboxId);
        if (pod == null) {
            return Optional.empty();
        }
        long now = nanos(Instant.now());
        LinuxPodSandboxStats.Builder linux = LinuxPodSandboxStats.newBuilder();
        MicroVm vm = manager.find(sandboxId).map(Sandbox::vm).orElse(null);
        if (vm != null) {
            // The host's view: guest RAM the VM has touched, what the pod costs the node.
            long resident = vm.residentMemoryBytes();
            linux.setMemory(MemoryUsage.newBuilder().setTimestamp(now)
                    .setWorkingSetBytes(UInt64Value.newBuilder().setValue(resident))
                    .setUsageBytes(UInt64Value.newBuilder().setValue(resident)));
        }
        for (Ctr c : containersOf(sandboxId)) {
            containerStats(c.id).ifPresent(linux::addContainers);
        }
        return Optional.of(PodSandboxStats.newBuilder()
                .setAttributes(PodSandboxAttributes.newBuilder().setId(pod.id).setMetadata(pod.config.getMetadata())
                        .putAllLabels(pod.config.getLabelsMap()).putAllAnnotations(pod.config.getAnnotationsMap()))
                .setLinux(linux).build());
    }

    @Override
    public List<PodSandboxStats> listPodSandboxStats() {
        List<PodSandboxStats> all = new ArrayList<>();
        for (String id : pods.keySet()) {
            podSandboxStats(id).ifPresent(all::add);
        }
        return all;
    }

    // ------------------------------------------------------------------ containers

    /** One container: its request, its state in the guest and its log file. */
    private final class Ctr implements ProcessListener {
        final String id;
        final String podId;
        /** The guest agent's id for it: the CRI's 64 digits are longer than the agent accepts. */
        final String agentId;
        final ContainerConfig config;
        final String imageId;
        final Optional<Path> logPath;
        final long createdAt = nanos(Instant.now());
        final CompletableFuture<Void> ended = new CompletableFuture<>();
        final java.util.concurrent.atomic.AtomicBoolean startRequested = new java.util.concurrent.atomic.AtomicBoolean();
        ContainerSandbox sandbox;
        volatile long startedAt;
        volatile long finishedAt;
        volatile int exitCode;
        volatile String reason = "";
        volatile String message = "";
        volatile CriLogWriter log;
        private volatile boolean logFailed;
        /** Clients attached to the main process (kubectl attach): its output goes to them too. */
        final List<ExecOutput> attached = new java.util.concurrent.CopyOnWriteArrayList<>();
        /** The limits in force in the guest: from CreateContainer, then each UpdateContainerResources. */
        volatile LinuxContainerResources resources;

        Ctr(String id, String podId, ContainerConfig config, String imageId, Optional<Path> logPath) {
            this.id = id;
            this.resources = config.getLinux().getResources();
            this.podId = podId;
            this.agentId = id.substring(0, 32);
            this.config = config;
            this.imageId = imageId;
            this.logPath = logPath;
        }

        ContainerState state() {
            if (ended.isDone()) {
                return ContainerState.CONTAINER_EXITED;
            }
            return startedAt == 0 ? ContainerState.CONTAINER_CREATED : ContainerState.CONTAINER_RUNNING;
        }

        @Override
        public void onOutput(Stream stream, byte[] data) {
            for (ExecOutput client : attached) {
                if (stream == Stream.STDERR) {
                    client.stderr(data);
                } else {
                    client.stdout(data);
                }
            }
            CriLogWriter writer = log;
            if (writer == null || logFailed) {
                return;
            }
            try {
                writer.write(stream == Stream.STDERR ? LogStream.STDERR : LogStream.STDOUT, data);
            } catch (IOException e) {
                // Logged once: a full disk would otherwise log every line of output.
                logFailed = true;
                LOG.warnf("container %s: writing its log %s failed, its output is dropped until ReopenContainerLog: %s",
                        id, writer.path(), e.getMessage());
            }
        }

        @Override
        public void onExit(ExitStatus status) {
            int code = status.getSignal() != 0 ? 128 + status.getSignal() : status.getExitCode();
            finish(code, code == 0 ? "Completed" : "Error", status.getSignal() != 0
                    ? "killed by signal " + status.getSignal() : "");
        }

        @Override
        public void onDisconnected(AgentException cause) {
            finish(255, "Error", "the pod's guest agent went away: " + cause.getMessage());
        }

        /** The VM is gone: a container that has not ended ended with it. */
        void vmEnded(String why) {
            if (startedAt == 0) {
                finish(0, "", why);
            } else {
                finish(137, "Error", why);
            }
        }

        private void finish(int code, String why, String text) {
            synchronized (ended) {
                if (ended.isDone()) {
                    return;
                }
                exitCode = code;
                reason = why;
                message = text;
                finishedAt = nanos(Instant.now());
            }
            closeLog(id);
            ended.complete(null);
            // An attach ends well however the container ended, as with the kubelet.
            attached.forEach(client -> client.exited(0));
            attached.clear();
        }

        ContainerStatus status() {
            ContainerStatus.Builder b = ContainerStatus.newBuilder().setId(id).setMetadata(config.getMetadata())
                    .setState(state()).setCreatedAt(createdAt).setStartedAt(startedAt)
                    .setImage(ImageSpec.newBuilder().setImage(imageId)).setImageRef(imageId).setImageId(imageId)
                    .putAllLabels(config.getLabelsMap()).putAllAnnotations(config.getAnnotationsMap())
                    .addAllMounts(config.getMountsList())
                    .setResources(ContainerResources.newBuilder().setLinux(resources))
                    .setLogPath(logPath.map(Path::toString).orElse(""));
            if (ended.isDone()) {
                b.setFinishedAt(finishedAt).setExitCode(exitCode).setReason(reason).setMessage(message);
            }
            return b.build();
        }

        Container summary() {
            return Container.newBuilder().setId(id).setPodSandboxId(podId).setMetadata(config.getMetadata())
                    .setImage(ImageSpec.newBuilder().setImage(imageId)).setImageRef(imageId).setImageId(imageId)
                    .setState(state()).setCreatedAt(createdAt).putAllLabels(config.getLabelsMap())
                    .putAllAnnotations(config.getAnnotationsMap()).build();
        }
    }

    @Override
    public void createContainer(String containerId, CreateContainerRequest request, Optional<Path> logPath) {
        Pod pod = pods.get(request.getPodSandboxId());
        if (pod == null) {
            throw CriException.notFound("no pod sandbox with id " + request.getPodSandboxId() + " exists on this node");
        }
        ContainerConfig cfg = request.getConfig();
        if (state(pod) != PodSandboxState.SANDBOX_READY) {
            throw CriException.failedPrecondition("pod sandbox " + pod.id + " is not ready (stopped, or its microVM "
                    + "ended); containers cannot be created in it");
        }
        if (guest == GuestKind.TINY) {
            throw CriException.failedPrecondition("pod sandbox " + pod.id + " runs the tiny guest "
                    + "(flotilla.node.cri.guest=tiny), which runs no containers; use guest linux on a host with "
                    + "hardware KVM");
        }
        List<Image> image = images.find(cfg.getImage().getImage()).orElseThrow(() -> CriException.notFound("image "
                + cfg.getImage().getImage() + " is not on this node; pull it first (PullImage)"));
        Image chosen = image.getFirst();
        ContainerSandbox sandbox;
        synchronized (pod) {
            if (!pod.launched) {
                launch(pod, chosen);
            } else if (!chosen.manifestDigest().equals(pod.vmImage)) {
                throw CriException.failedPrecondition("pod sandbox " + pod.id + " runs image " + pod.vmImage
                        + " as its microVM's root disk; containers of one pod must use one image in Flotilla for now "
                        + "(container " + cfg.getMetadata().getName() + " asks for " + chosen.reference() + ")");
            }
            Sandbox vm = manager.find(pod.id).orElseThrow(() -> CriException.failedPrecondition(
                    "pod sandbox " + pod.id + " has no microVM any more"));
            try {
                sandbox = runtime.containers(vm.spec());
            } catch (ApiException e) {
                throw CriErrors.from(e);
            }
        }
        Resources limits = guestResources(cfg.getLinux().getResources(), pod, cfg.getMetadata().getName());
        Ctr c = new Ctr(containerId, pod.id, cfg, chosen.configDigest().toString(), logPath);
        List<String> env = cfg.getEnvsList().stream().map(kv -> kv.getKey() + "=" + kv.getValue()).toList();
        try {
            var process = ProcessTemplate.kubernetes(sandbox.imageConfig(), cfg.getCommandList(), cfg.getArgsList(),
                    env, cfg.getWorkingDir());
            if (cfg.getTty()) {
                // kubectl run -t / a pod with tty: true: the main process gets a terminal, attach resizes it.
                process = process.toBuilder().setTerminal(true).setTtyRows(24).setTtyCols(80).build();
            }
            c.sandbox = sandbox;
            containers.put(containerId, c);
            sandbox.create(c.agentId, process, limits, c);
        } catch (ContainerException e) {
            containers.remove(containerId);
            if (e.getMessage().contains("nothing to run") || e.getMessage().contains("User")) {
                throw CriException.invalidArgument("container " + cfg.getMetadata().getName() + ": " + e.getMessage());
            }
            throw CriErrors.from(e);
        } catch (InterruptedException e) {
            containers.remove(containerId);
            throw CriErrors.interrupted("creating container " + cfg.getMetadata().getName());
        }
    }

    @Override
    public void startContainer(String containerId) {
        Ctr c = container(containerId);
        // Not under a lock held across the agent call: the container's exit arrives on the agent's reader thread,
        // which must never wait for us while we wait for its answer.
        if (c.ended.isDone() || !c.startRequested.compareAndSet(false, true)) {
            throw CriException.failedPrecondition("container " + containerId + " is " + c.state().name()
                    .substring("CONTAINER_".length()).toLowerCase(java.util.Locale.ROOT)
                    + "; only a created container can be started");
        }
        try {
            if (c.logPath.isPresent()) {
                // The kubelet makes <pod log dir>/<container name>/ first; a path it did not make is made here
                // (the shim checked that it stays inside the pod's log directory).
                java.nio.file.Files.createDirectories(c.logPath.get().getParent());
                c.log = logs.open(containerId, c.logPath.get());
            }
            c.sandbox.start(c.agentId);
            if (!c.config.getStdin() && !c.config.getTty()) {
                // stdin: false is an empty input, as Kubernetes promises (not a pipe nobody ever writes to).
                c.sandbox.closeStdin(c.agentId, "");
            }
            c.startedAt = nanos(Instant.now());
        } catch (IOException e) {
            c.startRequested.set(false);
            throw new CriException(CriException.Reason.INTERNAL, "container " + containerId + ": cannot open its "
                    + "log file " + c.logPath.get() + ": " + e.getMessage(), e);
        } catch (ContainerException e) {
            c.startRequested.set(false);
            closeLog(containerId);
            throw CriErrors.from(e);
        } catch (InterruptedException e) {
            closeLog(containerId);
            throw CriErrors.interrupted("starting container " + containerId);
        }
    }

    @Override
    public boolean stopContainer(String containerId, Duration gracePeriod) {
        Ctr c = containers.get(containerId);
        if (c == null) {
            return false;
        }
        if (c.state() != ContainerState.CONTAINER_RUNNING) {
            return true;
        }
        try {
            if (!gracePeriod.isZero()) {
                c.sandbox.signal(c.agentId, "", 15);
                if (await(c.ended, gracePeriod)) {
                    return true;
                }
            }
            c.sandbox.signal(c.agentId, "", 9);
            if (!await(c.ended, KILL_WAIT)) {
                throw new CriException(CriException.Reason.DEADLINE_EXCEEDED, "container " + containerId
                        + " did not end within " + KILL_WAIT.toSeconds() + " s of SIGKILL");
            }
        } catch (ContainerException e) {
            // The agent is gone, and the container with it.
            c.vmEnded("its pod's guest agent went away: " + e.getMessage());
        } catch (InterruptedException e) {
            throw CriErrors.interrupted("stopping container " + containerId);
        }
        return true;
    }

    @Override
    public boolean removeContainer(String containerId) {
        Ctr c = containers.remove(containerId);
        if (c == null) {
            return false;
        }
        // The CRI asks a running container to be removed forcibly: the agent kills its processes.
        try {
            if (c.sandbox.lostReason() == null) {
                c.sandbox.delete(c.agentId);
            }
        } catch (ContainerException e) {
            LOG.debugf("container %s: removing it from the guest: %s", containerId, e.getMessage());
        } catch (InterruptedException e) {
            throw CriErrors.interrupted("removing container " + containerId);
        }
        c.vmEnded("removed");
        closeLog(containerId);
        return true;
    }

    @Override
    public Optional<ContainerStatusResponse> containerStatus(String containerId, boolean verbose) {
        Ctr c = containers.get(containerId);
        if (c == null) {
            return Optional.empty();
        }
        ContainerStatusResponse.Builder b = ContainerStatusResponse.newBuilder().setStatus(c.status());
        if (verbose) {
            b.putInfo("guest", "{\"sandbox\":\"" + c.sandbox.name() + "\",\"agentContainerId\":\"" + c.agentId + "\"}");
        }
        return Optional.of(b.build());
    }

    @Override
    public List<Container> listContainers() {
        return containers.values().stream().sorted(Comparator.comparingLong(c -> c.createdAt)).map(Ctr::summary)
                .toList();
    }

    @Override
    public void updateContainerResources(UpdateContainerResourcesRequest request) {
        Ctr c = container(request.getContainerId());
        Pod pod = pods.get(c.podId);
        if (c.ended.isDone()) {
            throw CriException.failedPrecondition("container " + c.id + " has exited; only a created or running "
                    + "container's resources can change");
        }
        LinuxContainerResources wanted = request.getLinux();
        Resources limits = guestResources(wanted, pod, c.config.getMetadata().getName());
        try {
            c.sandbox.updateResources(c.agentId, limits);
        } catch (ContainerException e) {
            throw CriErrors.from(e);
        } catch (InterruptedException e) {
            throw CriErrors.interrupted("updating the resources of container " + c.id);
        }
        c.resources = wanted;
    }

    /**
     * A container's CRI limits as the guest agent applies them to its cgroup inside the microVM: memory.max,
     * cpu.max (quota per period) and cpu.weight from cpu_shares (the cgroup v1 to v2 mapping runc uses). The pod's
     * microVM bounds everything anyway; a memory limit above it could never be met, so it is refused rather than
     * promised. The cpuset, hugepage, swap and unified fields are not applied.
     */
    static Resources guestResources(LinuxContainerResources r, Pod pod, String container) {
        if (r.getMemoryLimitInBytes() < 0 || r.getCpuQuota() < -1 || r.getCpuPeriod() < 0 || r.getCpuShares() < 0) {
            throw CriException.invalidArgument("container " + container + ": negative resource values (memory "
                    + r.getMemoryLimitInBytes() + ", cpu quota " + r.getCpuQuota() + ", period " + r.getCpuPeriod()
                    + ", shares " + r.getCpuShares() + ")");
        }
        Resources.Builder b = Resources.newBuilder();
        if (r.getMemoryLimitInBytes() > 0) {
            if (pod != null && r.getMemoryLimitInBytes() > pod.memoryMiB * MIB) {
                throw CriException.failedPrecondition("container " + container + ": a memory limit of "
                        + r.getMemoryLimitInBytes() / MIB + " MiB does not fit the pod's microVM of " + pod.memoryMiB
                        + " MiB (Flotilla cannot grow a running microVM's memory)");
            }
            b.setMemoryLimitBytes(r.getMemoryLimitInBytes());
        }
        if (r.getCpuQuota() > 0) {
            long period = r.getCpuPeriod() == 0 ? 100_000 : r.getCpuPeriod();
            if (period < 1_000 || period > 1_000_000 || r.getCpuQuota() < 1_000) {
                throw CriException.invalidArgument("container " + container + ": cpu quota " + r.getCpuQuota()
                        + " us per period " + period + " us is out of range (period 1000..1000000 us, quota at least 1000 us)");
            }
            b.setCpuQuotaUs(r.getCpuQuota()).setCpuPeriodUs(period);
        }
        if (r.getCpuShares() > 0) {
            long shares = Math.clamp(r.getCpuShares(), 2, 262_144);
            b.setCpuWeight((int) (1 + ((shares - 2) * 9_999) / 262_142));
        }
        return b.build();
    }

    @Override
    public void checkExec(ExecRequest request) {
        Ctr c = container(request.getContainerId());
        if (c.state() != ContainerState.CONTAINER_RUNNING) {
            throw CriException.failedPrecondition("container " + c.id + " is not running; Exec needs a running container");
        }
    }

    /**
     * kubectl exec: the command runs in the container through the guest agent's interactive exec (the container's
     * env, working directory and user; a terminal of 80x24 until the client sends its size).
     */
    @Override
    public ExecProcess startExec(ExecRequest request, ExecOutput output) {
        checkExec(request);
        Ctr c = container(request.getContainerId());
        ContainerSandbox sandbox = c.sandbox;
        String execId = "x" + execIds.incrementAndGet();
        ProcessListener listener = new ProcessListener() {
            @Override
            public void onOutput(dev.flotilla.agent.protocol.Stream stream, byte[] data) {
                if (stream == dev.flotilla.agent.protocol.Stream.STDERR) {
                    output.stderr(data);
                } else {
                    output.stdout(data);
                }
            }

            @Override
            public void onExit(ExitStatus status) {
                sandbox.forgetExec(c.agentId, execId);
                output.exited(status.getSignal() != 0 ? 128 + status.getSignal() : status.getExitCode());
            }

            @Override
            public void onDisconnected(AgentException cause) {
                output.failed("the guest agent of pod " + c.podId + " went away during the command: " + cause.getMessage());
            }
        };
        try {
            sandbox.execInteractive(c.agentId, execId, request.getCmdList(), request.getTty()
                    ? Optional.of(new ContainerSandbox.Tty(24, 80)) : Optional.empty(), listener);
            if (!request.getStdin()) {
                sandbox.closeStdin(c.agentId, execId);
            }
        } catch (ContainerException e) {
            throw CriErrors.from(e);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw CriErrors.interrupted("starting an exec in container " + c.id);
        }
        return new ExecProcess() {
            @Override
            public void stdin(byte[] data) {
                call(() -> sandbox.writeStdin(c.agentId, execId, data));
            }

            @Override
            public void closeStdin() {
                call(() -> sandbox.closeStdin(c.agentId, execId));
            }

            @Override
            public void resize(int columns, int rows) {
                call(() -> sandbox.resizeTty(c.agentId, execId, rows, columns));
            }

            @Override
            public void cancel() {
                call(() -> sandbox.signal(c.agentId, execId, 9));
            }
        };
    }

    @Override
    public void checkAttach(AttachRequest request) {
        Ctr c = container(request.getContainerId());
        if (c.state() != ContainerState.CONTAINER_RUNNING) {
            throw CriException.failedPrecondition("container " + c.id + " is not running; Attach needs a running container");
        }
        if (request.getStdin() && !c.config.getStdin()) {
            throw CriException.invalidArgument("container " + c.id + " was created without stdin (stdin: false), so "
                    + "nothing can be attached to its input; attach without -i, or create it with stdin: true");
        }
        if (request.getTty() != c.config.getTty()) {
            throw CriException.invalidArgument("container " + c.id + (c.config.getTty() ? " has" : " has no")
                    + " terminal (tty: " + c.config.getTty() + "); attach with the same tty setting");
        }
    }

    /** kubectl attach: the main process's output from now on, and its stdin if the container has one. */
    @Override
    public ExecProcess startAttach(AttachRequest request, ExecOutput output) {
        checkAttach(request);
        Ctr c = container(request.getContainerId());
        c.attached.add(output);
        if (c.ended.isDone() && c.attached.remove(output)) {
            output.exited(0); // it ended meanwhile
        }
        return new ExecProcess() {
            @Override
            public void stdin(byte[] data) {
                call(() -> c.sandbox.writeStdin(c.agentId, "", data));
            }

            @Override
            public void closeStdin() {
                if (c.config.getStdinOnce()) {
                    call(() -> c.sandbox.closeStdin(c.agentId, ""));
                }
            }

            @Override
            public void resize(int columns, int rows) {
                call(() -> c.sandbox.resizeTty(c.agentId, "", rows, columns));
            }

            @Override
            public void cancel() {
                c.attached.remove(output);
                closeStdin(); // a stdin_once container's input ends with its first attach
            }
        };
    }

    @Override
    public void checkPortForward(PortForwardRequest request) {
        podAddress(request.getPodSandboxId());
    }

    /**
     * kubectl port-forward: the pod's microVM on the node's network (its tap on the agent's bridge), so a forwarded
     * connection reaches whatever listens on that port in any of the pod's containers (they share the VM's network).
     */
    @Override
    public InetSocketAddress target(String podSandboxId, int port) {
        return new InetSocketAddress(podAddress(podSandboxId), port);
    }

    private InetAddress podAddress(String podSandboxId) {
        Pod pod = pods.get(podSandboxId);
        if (pod == null) {
            throw CriException.notFound("no pod sandbox with id " + podSandboxId + " exists on this node");
        }
        if (state(pod) != PodSandboxState.SANDBOX_READY) {
            throw CriException.failedPrecondition("pod sandbox " + podSandboxId + " is not ready; port forwarding needs "
                    + "its microVM running");
        }
        CniNetwork.Attachment cniNet = pod.network;
        String address = cniNet != null ? cniNet.ip() : manager.find(podSandboxId).map(Sandbox::toRecord)
                .map(SandboxRecord::network).map(SandboxRecord.NetAttachment::address).orElseThrow(() -> CriException.failedPrecondition(
                        "pod sandbox " + podSandboxId + " has no network to forward ports to (the node agent runs "
                                + "with flotilla.node.network.enabled=false, or the tiny guest has no NIC)"));
        try {
            return InetAddress.getByName(address);
        } catch (UnknownHostException e) {
            throw new CriException(CriException.Reason.INTERNAL, "pod sandbox " + podSandboxId + " has an address "
                    + "that is not one: " + address, e);
        }
    }

    private interface AgentCall {
        void run() throws InterruptedException;
    }

    private static void call(AgentCall call) {
        try {
            call.run();
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new ContainerException("interrupted");
        }
    }

    @Override
    public ExecSyncResponse execSync(String containerId, List<String> command, Duration timeout) {
        Ctr c = container(containerId);
        if (c.state() != ContainerState.CONTAINER_RUNNING) {
            throw CriException.failedPrecondition("container " + containerId + " is not running; ExecSync needs a "
                    + "running container");
        }
        String execId = "x" + execIds.incrementAndGet();
        try {
            ContainerLog out = c.sandbox.exec(c.agentId, execId, command);
            try {
                ExitStatus status;
                try {
                    status = timeout.isZero() ? out.exit().get()
                            : out.exit().get(timeout.toNanos(), TimeUnit.NANOSECONDS);
                } catch (TimeoutException e) {
                    c.sandbox.signal(c.agentId, execId, 9);
                    throw new CriException(CriException.Reason.DEADLINE_EXCEEDED, "command " + command
                            + " in container " + containerId + " did not finish within " + timeout.toSeconds()
                            + " s and was killed");
                } catch (ExecutionException e) {
                    throw new CriException(CriException.Reason.UNAVAILABLE, "command " + command + " in container "
                            + containerId + " was lost with the pod's guest agent: " + e.getCause().getMessage());
                }
                int code = status.getSignal() != 0 ? 128 + status.getSignal() : status.getExitCode();
                return ExecSyncResponse.newBuilder()
                        .setStdout(bytes(out, Stream.STDOUT)).setStderr(bytes(out, Stream.STDERR))
                        .setExitCode(code).build();
            } finally {
                c.sandbox.forgetExec(c.agentId, execId);
            }
        } catch (ContainerException e) {
            throw CriErrors.from(e);
        } catch (InterruptedException e) {
            throw CriErrors.interrupted("ExecSync in container " + containerId);
        }
    }

    private static com.google.protobuf.ByteString bytes(ContainerLog log, Stream stream) {
        com.google.protobuf.ByteString.Output out = com.google.protobuf.ByteString.newOutput();
        for (ContainerLog.Chunk chunk : log.snapshot()) {
            if (chunk.stream() == stream) {
                out.write(chunk.data(), 0, chunk.data().length);
            }
        }
        return out.toByteString();
    }

    @Override
    public Optional<ContainerStats> containerStats(String containerId) {
        Ctr c = containers.get(containerId);
        if (c == null) {
            return Optional.empty();
        }
        ContainerStats.Builder b = ContainerStats.newBuilder().setAttributes(ContainerAttributes.newBuilder()
                .setId(c.id).setMetadata(c.config.getMetadata()).putAllLabels(c.config.getLabelsMap())
                .putAllAnnotations(c.config.getAnnotationsMap()));
        if (c.state() == ContainerState.CONTAINER_RUNNING) {
            try {
                Stats s = c.sandbox.stats(c.agentId);
                long now = nanos(Instant.now());
                b.setCpu(CpuUsage.newBuilder().setTimestamp(now)
                        .setUsageCoreNanoSeconds(UInt64Value.newBuilder().setValue(s.getCpuUsageUsec() * 1000)));
                b.setMemory(MemoryUsage.newBuilder().setTimestamp(now)
                        .setWorkingSetBytes(UInt64Value.newBuilder().setValue(s.getMemoryCurrentBytes()))
                        .setUsageBytes(UInt64Value.newBuilder().setValue(s.getMemoryCurrentBytes())));
            } catch (ContainerException e) {
                LOG.debugf("container %s: no stats: %s", containerId, e.getMessage());
            } catch (InterruptedException e) {
                throw CriErrors.interrupted("reading the stats of container " + containerId);
            }
        }
        return Optional.of(b.build());
    }

    @Override
    public List<ContainerStats> listContainerStats() {
        List<ContainerStats> all = new ArrayList<>();
        for (Ctr c : containers.values()) {
            if (c.state() == ContainerState.CONTAINER_RUNNING) {
                containerStats(c.id).ifPresent(all::add);
            }
        }
        return all;
    }

    // ------------------------------------------------------------------ helpers

    private Ctr container(String id) {
        Ctr c = containers.get(id);
        if (c == null) {
            throw CriException.notFound("no container with id " + id + " exists on this node");
        }
        return c;
    }

    private List<Ctr> containersOf(String podId) {
        return containers.values().stream().filter(c -> c.podId.equals(podId))
                .sorted(Comparator.comparingLong(c -> c.createdAt)).toList();
    }

    private void closeLog(String containerId) {
        try {
            logs.close(containerId);
        } catch (IOException e) {
            LOG.warnf("container %s: closing its log failed: %s", containerId, e.getMessage());
        }
    }

    private static boolean await(CompletableFuture<Void> done, Duration limit) throws InterruptedException {
        try {
            done.get(limit.toNanos(), TimeUnit.NANOSECONDS);
            return true;
        } catch (TimeoutException e) {
            return false;
        } catch (ExecutionException e) {
            return true;
        }
    }

    static String podName(PodSandboxConfig cfg) {
        return cfg.getMetadata().getNamespace() + "/" + cfg.getMetadata().getName();
    }

    static long nanos(Instant t) {
        return t.getEpochSecond() * 1_000_000_000L + t.getNano();
    }
}
