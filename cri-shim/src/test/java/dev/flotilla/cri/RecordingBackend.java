package dev.flotilla.cri;

import dev.flotilla.cri.backend.ContainerBackend;
import dev.flotilla.cri.backend.PodSandboxBackend;
import dev.flotilla.cri.v1.Container;
import dev.flotilla.cri.v1.ContainerMetadata;
import dev.flotilla.cri.v1.ContainerState;
import dev.flotilla.cri.v1.ContainerStats;
import dev.flotilla.cri.v1.ContainerStatus;
import dev.flotilla.cri.v1.ContainerStatusResponse;
import dev.flotilla.cri.v1.CreateContainerRequest;
import dev.flotilla.cri.v1.ExecSyncResponse;
import dev.flotilla.cri.v1.PodSandbox;
import dev.flotilla.cri.v1.PodSandboxState;
import dev.flotilla.cri.v1.PodSandboxStats;
import dev.flotilla.cri.v1.PodSandboxStatus;
import dev.flotilla.cri.v1.PodSandboxStatusResponse;
import dev.flotilla.cri.v1.RunPodSandboxRequest;
import dev.flotilla.cri.v1.UpdateContainerResourcesRequest;

import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.ConcurrentHashMap;

/**
 * A test double of the node-agent's side of the seam: it records sandboxes and containers in maps instead of
 * booting microVMs, so the shim's own contract (validation, names, filters, status codes) can be driven over the
 * socket. It is not a runtime and is never shipped.
 */
final class RecordingBackend implements PodSandboxBackend, ContainerBackend {

    final Map<String, PodSandbox> sandboxes = new ConcurrentHashMap<>();
    final Map<String, Container> containers = new ConcurrentHashMap<>();
    final Map<String, Optional<Path>> logPaths = new ConcurrentHashMap<>();
    volatile RuntimeException failNextRun;

    @Override
    public void runPodSandbox(String sandboxId, RunPodSandboxRequest request) {
        RuntimeException failure = failNextRun;
        if (failure != null) {
            failNextRun = null;
            throw failure;
        }
        sandboxes.put(sandboxId, PodSandbox.newBuilder().setId(sandboxId)
                .setMetadata(request.getConfig().getMetadata()).setState(PodSandboxState.SANDBOX_READY)
                .setCreatedAt(System.nanoTime()).putAllLabels(request.getConfig().getLabelsMap())
                .setRuntimeHandler(request.getRuntimeHandler()).build());
    }

    @Override
    public boolean stopPodSandbox(String sandboxId) {
        return sandboxes.computeIfPresent(sandboxId,
                (id, s) -> s.toBuilder().setState(PodSandboxState.SANDBOX_NOTREADY).build()) != null;
    }

    @Override
    public boolean removePodSandbox(String sandboxId) {
        containers.values().removeIf(c -> c.getPodSandboxId().equals(sandboxId));
        return sandboxes.remove(sandboxId) != null;
    }

    @Override
    public Optional<PodSandboxStatusResponse> podSandboxStatus(String sandboxId, boolean verbose) {
        return Optional.ofNullable(sandboxes.get(sandboxId)).map(s -> PodSandboxStatusResponse.newBuilder()
                .setStatus(PodSandboxStatus.newBuilder().setId(s.getId()).setMetadata(s.getMetadata())
                        .setState(s.getState()).setCreatedAt(s.getCreatedAt())).build());
    }

    @Override
    public List<PodSandbox> listPodSandboxes() {
        return new ArrayList<>(sandboxes.values());
    }

    @Override
    public Optional<PodSandboxStats> podSandboxStats(String sandboxId) {
        return Optional.empty();
    }

    @Override
    public List<PodSandboxStats> listPodSandboxStats() {
        return List.of();
    }

    @Override
    public void createContainer(String containerId, CreateContainerRequest request, Optional<Path> logPath) {
        if (!sandboxes.containsKey(request.getPodSandboxId())) {
            throw CriException.notFound("no pod sandbox with id " + request.getPodSandboxId());
        }
        logPaths.put(containerId, logPath);
        containers.put(containerId, Container.newBuilder().setId(containerId)
                .setPodSandboxId(request.getPodSandboxId()).setMetadata(request.getConfig().getMetadata())
                .setState(ContainerState.CONTAINER_CREATED).putAllLabels(request.getConfig().getLabelsMap()).build());
    }

    @Override
    public void startContainer(String containerId) {
        if (containers.computeIfPresent(containerId,
                (id, c) -> c.toBuilder().setState(ContainerState.CONTAINER_RUNNING).build()) == null) {
            throw CriException.notFound("no container with id " + containerId);
        }
    }

    @Override
    public boolean stopContainer(String containerId, Duration gracePeriod) {
        return containers.computeIfPresent(containerId,
                (id, c) -> c.toBuilder().setState(ContainerState.CONTAINER_EXITED).build()) != null;
    }

    @Override
    public boolean removeContainer(String containerId) {
        return containers.remove(containerId) != null;
    }

    @Override
    public Optional<ContainerStatusResponse> containerStatus(String containerId, boolean verbose) {
        return Optional.ofNullable(containers.get(containerId)).map(c -> ContainerStatusResponse.newBuilder()
                .setStatus(ContainerStatus.newBuilder().setId(c.getId())
                        .setMetadata(ContainerMetadata.newBuilder(c.getMetadata())).setState(c.getState())).build());
    }

    @Override
    public List<Container> listContainers() {
        return new ArrayList<>(containers.values());
    }

    @Override
    public void updateContainerResources(UpdateContainerResourcesRequest request) {
    }

    @Override
    public ExecSyncResponse execSync(String containerId, List<String> command, Duration timeout) {
        throw CriException.unimplemented("not recorded");
    }

    @Override
    public Optional<ContainerStats> containerStats(String containerId) {
        return Optional.empty();
    }

    @Override
    public List<ContainerStats> listContainerStats() {
        return List.of();
    }
}
