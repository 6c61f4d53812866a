package dev.flotilla.cri.service;

import dev.flotilla.cri.CriConfig;
import dev.flotilla.cri.CriException;
import dev.flotilla.cri.JsonText;
import dev.flotilla.cri.backend.ContainerBackend;
import dev.flotilla.cri.backend.CriBackends;
import dev.flotilla.cri.backend.PodSandboxBackend;
import dev.flotilla.cri.backend.RuntimeReadiness.Condition;
import dev.flotilla.cri.backend.StreamingBackend;
import dev.flotilla.cri.logs.ContainerLogs;
import dev.flotilla.cri.network.CniReadiness;
import dev.flotilla.cri.v1.*;
import io.grpc.Status;
import io.grpc.stub.StreamObserver;

import java.io.IOException;
import java.nio.file.Path;
import java.time.Duration;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;

import java.util.stream.Collectors;

/**
 * runtime.v1.RuntimeService: validates each request, keeps sandbox and container names unique, applies list
 * filters and owns ReopenContainerLog; the work itself goes to the node-agent's backends. Calls whose backend is
 * not attached answer UNIMPLEMENTED naming the missing part.
 */
public final class RuntimeServiceImpl extends RuntimeServiceGrpc.RuntimeServiceImplBase {

    /** CRI API version the kubelet expects in VersionResponse.version. */
    static final String KUBELET_API_VERSION = "0.1.0";
    static final String RUNTIME_NAME = "flotilla";
    static final String RUNTIME_API_VERSION = "v1";
    static final String RUNTIME_READY = "RuntimeReady";
    static final String NETWORK_READY = "NetworkReady";

    private static final System.Logger LOG = System.getLogger(RuntimeServiceImpl.class.getName());

    private final CriConfig config;
    private final CriBackends backends;
    private final ContainerLogs logs;
    private final CniReadiness network;
    private final PodNetworkSettings podNetwork;
    private final NameIndex sandboxNames = new NameIndex("pod sandbox");
    private final NameIndex containerNames = new NameIndex("container");

    public RuntimeServiceImpl(CriConfig config, CriBackends backends, ContainerLogs logs,
                              PodNetworkSettings podNetwork) {
        this.config = config;
        this.backends = backends;
        this.logs = logs;
        this.network = new CniReadiness(config.cniConfDir(), config.cniBinDirs());
        this.podNetwork = podNetwork;
        seedNames();
    }

    // ------------------------------------------------------------------ version, status, config

    @Override
    public void version(VersionRequest request, StreamObserver<VersionResponse> response) {
        Calls.unary("Version", response, () -> VersionResponse.newBuilder()
                .setVersion(KUBELET_API_VERSION)
                .setRuntimeName(RUNTIME_NAME)
                .setRuntimeVersion(config.runtimeVersion())
                .setRuntimeApiVersion(RUNTIME_API_VERSION)
                .build());
    }

    @Override
    public void status(StatusRequest request, StreamObserver<StatusResponse> response) {
        Calls.unary("Status", response, () -> {
            Condition runtime = backends.readiness().map(check -> check.check()).orElse(Condition.notReady(
                    "RuntimeNotAttached", "the node-agent has not attached its sandbox runtime to the CRI shim "
                            + "yet, so no pod sandbox can start"));
            Condition net = network.check();
            StatusResponse.Builder status = StatusResponse.newBuilder()
                    .setStatus(RuntimeStatus.newBuilder()
                            .addConditions(condition(RUNTIME_READY, runtime))
                            .addConditions(condition(NETWORK_READY, net)))
                    .setFeatures(RuntimeFeatures.newBuilder()
                            .setSupplementalGroupsPolicy(false)
                            .setUserNamespacesHostNetwork(false));
            status.addRuntimeHandlers(handler(""));
            for (String name : config.runtimeHandlers()) {
                status.addRuntimeHandlers(handler(name));
            }
            if (request.getVerbose()) {
                status.putInfo("config", JsonText.object(Map.of(
                        "socket", config.socket().toString(),
                        "cniConfDir", config.cniConfDir().toString(),
                        "cniBinDirs", config.cniBinDirs().stream().map(Path::toString).collect(Collectors.joining(":")),
                        "cgroupDriver", config.cgroupDriver().name().toLowerCase(java.util.Locale.ROOT),
                        "podCidrs", String.join(",", podNetwork.podCidrs()))));
                status.putInfo("backends", JsonText.object(attachedBackends()));
            }
            return status.build();
        });
    }

    @Override
    public void updateRuntimeConfig(UpdateRuntimeConfigRequest request,
                                    StreamObserver<UpdateRuntimeConfigResponse> response) {
        Calls.unary("UpdateRuntimeConfig", response, () -> {
            List<String> cidrs = CriRequests.podCidrs(
                    request.getRuntimeConfig().getNetworkConfig().getPodCidr());
            // An empty CIDR means "unchanged" (upstream: runtimes should omit it).
            if (!cidrs.isEmpty()) {
                podNetwork.update(cidrs);
            }
            return UpdateRuntimeConfigResponse.getDefaultInstance();
        });
    }

    @Override
    public void runtimeConfig(RuntimeConfigRequest request, StreamObserver<RuntimeConfigResponse> response) {
        Calls.unary("RuntimeConfig", response, () -> RuntimeConfigResponse.newBuilder()
                .setLinux(LinuxRuntimeConfiguration.newBuilder().setCgroupDriver(
                        config.cgroupDriver() == CriConfig.CgroupDriver.SYSTEMD
                                ? CgroupDriver.SYSTEMD : CgroupDriver.CGROUPFS))
                .build());
    }

    // ------------------------------------------------------------------ pod sandboxes

    @Override
    public void runPodSandbox(RunPodSandboxRequest request, StreamObserver<RunPodSandboxResponse> response) {
        Calls.unary("RunPodSandbox", response, () -> {
            String name = CriRequests.sandboxConfig("config", request.getConfig(), request.hasConfig());
            if (!config.servesHandler(request.getRuntimeHandler())) {
                throw CriException.invalidArgument("runtime_handler '"
                        + CriRequests.printable(request.getRuntimeHandler()) + "' is not served by this node; "
                        + "it serves the default handler and " + config.runtimeHandlers()
                        + " (check the RuntimeClass handler name)");
            }
            PodSandboxBackend sandboxes = sandboxes("RunPodSandbox");
            String id = CriIds.newId();
            sandboxNames.reserve(name, id);
            try {
                sandboxes.runPodSandbox(id, request);
            } catch (RuntimeException e) {
                sandboxNames.releaseId(id);
                throw e;
            }
            return RunPodSandboxResponse.newBuilder().setPodSandboxId(id).build();
        });
    }

    @Override
    public void stopPodSandbox(StopPodSandboxRequest request, StreamObserver<StopPodSandboxResponse> response) {
        Calls.unary("StopPodSandbox", response, () -> {
            String id = CriRequests.sandboxId("pod_sandbox_id", request.getPodSandboxId());
            if (!sandboxes("StopPodSandbox").stopPodSandbox(id)) {
                throw sandboxNotFound(id);
            }
            return StopPodSandboxResponse.getDefaultInstance();
        });
    }

    @Override
    public void removePodSandbox(RemovePodSandboxRequest request,
                                 StreamObserver<RemovePodSandboxResponse> response) {
        Calls.unary("RemovePodSandbox", response, () -> {
            String id = CriRequests.sandboxId("pod_sandbox_id", request.getPodSandboxId());
            // Idempotent: an unknown sandbox counts as removed.
            sandboxes("RemovePodSandbox").removePodSandbox(id);
            sandboxNames.releaseId(id);
            containerNames.releasePrefix(id + "/");
            return RemovePodSandboxResponse.getDefaultInstance();
        });
    }

    @Override
    public void podSandboxStatus(PodSandboxStatusRequest request,
                                 StreamObserver<PodSandboxStatusResponse> response) {
        Calls.unary("PodSandboxStatus", response, () -> {
            String id = CriRequests.sandboxId("pod_sandbox_id", request.getPodSandboxId());
            return sandboxes("PodSandboxStatus").podSandboxStatus(id, request.getVerbose())
                    .orElseThrow(() -> sandboxNotFound(id));
        });
    }

    @Override
    public void listPodSandbox(ListPodSandboxRequest request, StreamObserver<ListPodSandboxResponse> response) {
        Calls.unary("ListPodSandbox", response, () -> ListPodSandboxResponse.newBuilder()
                .addAllItems(CriFilters.sandboxes(sandboxes("ListPodSandbox").listPodSandboxes(),
                        request.getFilter()))
                .build());
    }

    @Override
    public void streamPodSandboxes(StreamPodSandboxesRequest request,
                                   StreamObserver<StreamPodSandboxesResponse> response) {
        Calls.streamedList("StreamPodSandboxes", response,
                () -> CriFilters.sandboxes(sandboxes("StreamPodSandboxes").listPodSandboxes(), request.getFilter()),
                items -> StreamPodSandboxesResponse.newBuilder().addAllPodSandboxes(items).build());
    }

    @Override
    public void updatePodSandboxResources(UpdatePodSandboxResourcesRequest request,
                                          StreamObserver<UpdatePodSandboxResourcesResponse> response) {
        Calls.unary("UpdatePodSandboxResources", response, () -> {
            CriRequests.sandboxId("pod_sandbox_id", request.getPodSandboxId());
            sandboxes("UpdatePodSandboxResources").updatePodSandboxResources(request);
            return UpdatePodSandboxResourcesResponse.getDefaultInstance();
        });
    }

    // ------------------------------------------------------------------ containers

    @Override
    public void createContainer(CreateContainerRequest request, StreamObserver<CreateContainerResponse> response) {
        Calls.unary("CreateContainer", response, () -> {
            String sandboxId = CriRequests.sandboxId("pod_sandbox_id", request.getPodSandboxId());
            String name = CriRequests.containerConfig("config", request.getConfig(), request.hasConfig());
            Optional<Path> logPath = CriRequests.containerLogPath(request.getSandboxConfig(), request.getConfig());
            ContainerBackend containers = containers("CreateContainer");
            String id = CriIds.newId();
            containerNames.reserve(sandboxId + "/" + name, id);
            try {
                containers.createContainer(id, request, logPath);
            } catch (RuntimeException e) {
                containerNames.releaseId(id);
                throw e;
            }
            return CreateContainerResponse.newBuilder().setContainerId(id).build();
        });
    }

    @Override
    public void startContainer(StartContainerRequest request, StreamObserver<StartContainerResponse> response) {
        Calls.unary("StartContainer", response, () -> {
            String id = CriRequests.containerId("container_id", request.getContainerId());
            containers("StartContainer").startContainer(id);
            return StartContainerResponse.getDefaultInstance();
        });
    }

    @Override
    public void stopContainer(StopContainerRequest request, StreamObserver<StopContainerResponse> response) {
        Calls.unary("StopContainer", response, () -> {
            String id = CriRequests.containerId("container_id", request.getContainerId());
            long grace = CriRequests.nonNegativeSeconds("timeout", request.getTimeout());
            if (!containers("StopContainer").stopContainer(id, Duration.ofSeconds(grace))) {
                throw containerNotFound(id);
            }
            return StopContainerResponse.getDefaultInstance();
        });
    }

    @Override
    public void removeContainer(RemoveContainerRequest request, StreamObserver<RemoveContainerResponse> response) {
        Calls.unary("RemoveContainer", response, () -> {
            String id = CriRequests.containerId("container_id", request.getContainerId());
            // Idempotent: an unknown container counts as removed.
            containers("RemoveContainer").removeContainer(id);
            containerNames.releaseId(id);
            try {
                logs.close(id);
            } catch (IOException e) {
                LOG.log(System.Logger.Level.WARNING, "closing the log of removed container " + id + " failed", e);
            }
            return RemoveContainerResponse.getDefaultInstance();
        });
    }

    @Override
    public void listContainers(ListContainersRequest request, StreamObserver<ListContainersResponse> response) {
        Calls.unary("ListContainers", response, () -> ListContainersResponse.newBuilder()
                .addAllContainers(CriFilters.containers(containers("ListContainers").listContainers(),
                        request.getFilter()))
                .build());
    }

    @Override
    public void streamContainers(StreamContainersRequest request, StreamObserver<StreamContainersResponse> response) {
        Calls.streamedList("StreamContainers", response,
                () -> CriFilters.containers(containers("StreamContainers").listContainers(), request.getFilter()),
                items -> StreamContainersResponse.newBuilder().addAllContainers(items).build());
    }

    @Override
    public void containerStatus(ContainerStatusRequest request, StreamObserver<ContainerStatusResponse> response) {
        Calls.unary("ContainerStatus", response, () -> {
            String id = CriRequests.containerId("container_id", request.getContainerId());
            return containers("ContainerStatus").containerStatus(id, request.getVerbose())
                    .orElseThrow(() -> containerNotFound(id));
        });
    }

    @Override
    public void updateContainerResources(UpdateContainerResourcesRequest request,
                                         StreamObserver<UpdateContainerResourcesResponse> response) {
        Calls.unary("UpdateContainerResources", response, () -> {
            CriRequests.containerId("container_id", request.getContainerId());
            containers("UpdateContainerResources").updateContainerResources(request);
            return UpdateContainerResourcesResponse.getDefaultInstance();
        });
    }

    @Override
    public void reopenContainerLog(ReopenContainerLogRequest request,
                                   StreamObserver<ReopenContainerLogResponse> response) {
        Calls.unary("ReopenContainerLog", response, () -> {
            String id = CriRequests.containerId("container_id", request.getContainerId());
            boolean reopened;
            try {
                reopened = logs.reopen(id);
            } catch (IOException e) {
                throw new CriException(CriException.Reason.INTERNAL, "reopening the log file of container " + id
                        + " failed: " + e.getMessage() + "; its output is not being logged until the next reopen", e);
            }
            if (!reopened) {
                // CRI: a runtime may refuse for a container that is not running, and then must not create a file.
                if (backends.containers().isPresent()
                        && backends.containers().get().containerStatus(id, false).isEmpty()) {
                    throw containerNotFound(id);
                }
                throw CriException.failedPrecondition("container " + id
                        + " has no open log to reopen: it is not running");
            }
            return ReopenContainerLogResponse.getDefaultInstance();
        });
    }

    // ------------------------------------------------------------------ exec, attach, port-forward

    @Override
    public void execSync(ExecSyncRequest request, StreamObserver<ExecSyncResponse> response) {
        Calls.unary("ExecSync", response, () -> {
            String id = CriRequests.containerId("container_id", request.getContainerId());
            CriRequests.command("cmd", request.getCmdList());
            long timeout = CriRequests.nonNegativeSeconds("timeout", request.getTimeout());
            ExecSyncResponse result = containers("ExecSync").execSync(id, List.copyOf(request.getCmdList()),
                    Duration.ofSeconds(timeout));
            return capOutput(result);
        });
    }

    @Override
    public void exec(ExecRequest request, StreamObserver<ExecResponse> response) {
        Calls.unary("Exec", response, () -> {
            CriRequests.containerId("container_id", request.getContainerId());
            CriRequests.command("cmd", request.getCmdList());
            CriRequests.streams("Exec", request.getStdin(), request.getStdout(), request.getStderr(),
                    request.getTty());
            return ExecResponse.newBuilder().setUrl(streaming("Exec").execUrl(request)).build();
        });
    }

    @Override
    public void attach(AttachRequest request, StreamObserver<AttachResponse> response) {
        Calls.unary("Attach", response, () -> {
            CriRequests.containerId("container_id", request.getContainerId());
            CriRequests.streams("Attach", request.getStdin(), request.getStdout(), request.getStderr(),
                    request.getTty());
            return AttachResponse.newBuilder().setUrl(streaming("Attach").attachUrl(request)).build();
        });
    }

    @Override
    public void portForward(PortForwardRequest request, StreamObserver<PortForwardResponse> response) {
        Calls.unary("PortForward", response, () -> {
            CriRequests.sandboxId("pod_sandbox_id", request.getPodSandboxId());
            CriRequests.ports("port", request.getPortList());
            return PortForwardResponse.newBuilder().setUrl(streaming("PortForward").portForwardUrl(request)).build();
        });
    }

    // ------------------------------------------------------------------ stats

    @Override
    public void containerStats(ContainerStatsRequest request, StreamObserver<ContainerStatsResponse> response) {
        Calls.unary("ContainerStats", response, () -> {
            String id = CriRequests.containerId("container_id", request.getContainerId());
            return ContainerStatsResponse.newBuilder().setStats(containers("ContainerStats").containerStats(id)
                    .orElseThrow(() -> containerNotFound(id))).build();
        });
    }

    @Override
    public void listContainerStats(ListContainerStatsRequest request,
                                   StreamObserver<ListContainerStatsResponse> response) {
        Calls.unary("ListContainerStats", response, () -> ListContainerStatsResponse.newBuilder()
                .addAllStats(filteredContainerStats("ListContainerStats", request.getFilter())).build());
    }

    @Override
    public void streamContainerStats(StreamContainerStatsRequest request,
                                     StreamObserver<StreamContainerStatsResponse> response) {
        Calls.streamedList("StreamContainerStats", response,
                () -> filteredContainerStats("StreamContainerStats", request.getFilter()),
                items -> StreamContainerStatsResponse.newBuilder().addAllContainerStats(items).build());
    }

    @Override
    public void podSandboxStats(PodSandboxStatsRequest request, StreamObserver<PodSandboxStatsResponse> response) {
        Calls.unary("PodSandboxStats", response, () -> {
            String id = CriRequests.sandboxId("pod_sandbox_id", request.getPodSandboxId());
            return PodSandboxStatsResponse.newBuilder().setStats(sandboxes("PodSandboxStats").podSandboxStats(id)
                    .orElseThrow(() -> sandboxNotFound(id))).build();
        });
    }

    @Override
    public void listPodSandboxStats(ListPodSandboxStatsRequest request,
                                    StreamObserver<ListPodSandboxStatsResponse> response) {
        Calls.unary("ListPodSandboxStats", response, () -> ListPodSandboxStatsResponse.newBuilder()
                .addAllStats(CriFilters.sandboxStats(sandboxes("ListPodSandboxStats").listPodSandboxStats(),
                        request.getFilter()))
                .build());
    }

    @Override
    public void streamPodSandboxStats(StreamPodSandboxStatsRequest request,
                                      StreamObserver<StreamPodSandboxStatsResponse> response) {
        Calls.streamedList("StreamPodSandboxStats", response,
                () -> CriFilters.sandboxStats(sandboxes("StreamPodSandboxStats").listPodSandboxStats(),
                        request.getFilter()),
                items -> StreamPodSandboxStatsResponse.newBuilder().addAllPodSandboxStats(items).build());
    }

    // ------------------------------------------------------------------ not offered by Flotilla

    @Override
    public void checkpointContainer(CheckpointContainerRequest request,
                                    StreamObserver<CheckpointContainerResponse> response) {
        response.onError(Status.UNIMPLEMENTED.withDescription("CheckpointContainer is not supported by Flotilla; "
                + "microVM snapshots are not exposed as container checkpoints").asRuntimeException());
    }

    @Override
    public void getContainerEvents(GetEventsRequest request, StreamObserver<ContainerEventResponse> response) {
        response.onError(Status.UNIMPLEMENTED.withDescription("GetContainerEvents is not supported by Flotilla yet; "
                + "keep the kubelet's EventedPLEG feature gate off (its default)").asRuntimeException());
    }

    @Override
    public void listMetricDescriptors(ListMetricDescriptorsRequest request,
                                      StreamObserver<ListMetricDescriptorsResponse> response) {
        response.onError(Status.UNIMPLEMENTED.withDescription("ListMetricDescriptors is not supported by Flotilla "
                + "yet; leave the kubelet's PodAndContainerStatsFromCRI feature gate off").asRuntimeException());
    }

    @Override
    public void listPodSandboxMetrics(ListPodSandboxMetricsRequest request,
                                      StreamObserver<ListPodSandboxMetricsResponse> response) {
        response.onError(Status.UNIMPLEMENTED.withDescription("ListPodSandboxMetrics is not supported by Flotilla "
                + "yet; leave the kubelet's PodAndContainerStatsFromCRI feature gate off").asRuntimeException());
    }

    @Override
    public void streamPodSandboxMetrics(StreamPodSandboxMetricsRequest request,
                                        StreamObserver<StreamPodSandboxMetricsResponse> response) {
        response.onError(Status.UNIMPLEMENTED.withDescription("StreamPodSandboxMetrics is not supported by Flotilla "
                + "yet; leave the kubelet's PodAndContainerStatsFromCRI feature gate off").asRuntimeException());
    }

    // ------------------------------------------------------------------ helpers

    private List<ContainerStats> filteredContainerStats(String rpc, ContainerStatsFilter filter) {
        ContainerBackend containers = containers(rpc);
        Map<String, String> sandboxOf = filter.getPodSandboxId().isEmpty() ? Map.of()
                : containers.listContainers().stream()
                        .collect(Collectors.toMap(Container::getId, Container::getPodSandboxId, (a, b) -> a));
        return CriFilters.containerStats(containers.listContainerStats(), filter, sandboxOf);
    }

    /** Enforces the CRI's 16 MiB cap per stream even if a backend forgot to (CVE-2022-1708). */
    static ExecSyncResponse capOutput(ExecSyncResponse result) {
        int cap = ContainerBackend.EXEC_SYNC_OUTPUT_CAP;
        if (result.getStdout().size() <= cap && result.getStderr().size() <= cap) {
            return result;
        }
        return result.toBuilder()
                .setStdout(result.getStdout().substring(0, Math.min(cap, result.getStdout().size())))
                .setStderr(result.getStderr().substring(0, Math.min(cap, result.getStderr().size())))
                .build();
    }

    private PodSandboxBackend sandboxes(String rpc) {
        return backends.sandboxes().orElseThrow(() -> notAttached(rpc, "sandbox runtime"));
    }

    private ContainerBackend containers(String rpc) {
        return backends.containers().orElseThrow(() -> notAttached(rpc, "container runtime"));
    }

    private StreamingBackend streaming(String rpc) {
        return backends.streaming().orElseThrow(() -> notAttached(rpc, "streaming server"));
    }

    static CriException notAttached(String rpc, String part) {
        return CriException.unimplemented(rpc + " needs the node-agent's " + part
                + ", which is not attached to this CRI shim yet");
    }

    private static CriException sandboxNotFound(String id) {
        return CriException.notFound("no pod sandbox with id " + id + " exists on this node");
    }

    private static CriException containerNotFound(String id) {
        return CriException.notFound("no container with id " + id + " exists on this node");
    }

    private static RuntimeCondition condition(String type, Condition c) {
        return RuntimeCondition.newBuilder().setType(type).setStatus(c.ready())
                .setReason(c.reason()).setMessage(c.message()).build();
    }

    private static RuntimeHandler handler(String name) {
        return RuntimeHandler.newBuilder().setName(name).setFeatures(RuntimeHandlerFeatures.newBuilder()
                .setRecursiveReadOnlyMounts(false).setUserNamespaces(false)).build();
    }

    private Map<String, String> attachedBackends() {
        Map<String, String> attached = new LinkedHashMap<>();
        attached.put("sandboxes", String.valueOf(backends.sandboxes().isPresent()));
        attached.put("containers", String.valueOf(backends.containers().isPresent()));
        attached.put("images", String.valueOf(backends.images().isPresent()));
        attached.put("streaming", String.valueOf(backends.streaming().isPresent()));
        attached.put("readiness", String.valueOf(backends.readiness().isPresent()));
        return attached;
    }

    /** After a node-agent restart the backends still hold sandboxes and containers: take their names back. */
    private void seedNames() {
        seed("pod sandbox", () -> backends.sandboxes().map(PodSandboxBackend::listPodSandboxes).orElse(List.of())
                .forEach(s -> sandboxNames.reserve("k8s_POD_" + s.getMetadata().getName() + "_"
                        + s.getMetadata().getNamespace() + "_" + s.getMetadata().getUid() + "_"
                        + s.getMetadata().getAttempt(), s.getId())));
        seed("container", () -> backends.containers().map(ContainerBackend::listContainers).orElse(List.of())
                .forEach(c -> containerNames.reserve(c.getPodSandboxId() + "/" + c.getMetadata().getName() + "_"
                        + c.getMetadata().getAttempt(), c.getId())));
    }

    private static void seed(String kind, Runnable action) {
        try {
            action.run();
        } catch (RuntimeException e) {
            LOG.log(System.Logger.Level.WARNING, "could not take back existing " + kind + " names; duplicates of "
                    + "them will not be detected until they are removed", e);
        }
    }


}
