package dev.flotilla.cri.backend;

import dev.flotilla.cri.v1.Container;
import dev.flotilla.cri.v1.ContainerStats;
import dev.flotilla.cri.v1.ContainerStatusResponse;
import dev.flotilla.cri.v1.CreateContainerRequest;
import dev.flotilla.cri.v1.ExecSyncResponse;
import dev.flotilla.cri.v1.UpdateContainerResourcesRequest;

import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Optional;

/**
 * Containers inside a pod's microVM: implemented by the node-agent through the guest agent.
 *
 * <p>Requests arrive validated; container ids are chosen by the shim. The container's stdout and stderr must be
 * written through a {@link dev.flotilla.cri.logs.CriLogWriter} registered in the shim's
 * {@link dev.flotilla.cri.logs.ContainerLogs} under the container id, so that ReopenContainerLog reaches it.
 */
public interface ContainerBackend {

    /**
     * Creates (does not start) a container in a ready sandbox. {@code logPath} is the kubelet's log file for it
     * (empty if the kubelet asked for none), already resolved against the sandbox's log directory and checked to
     * stay inside it.
     */
    void createContainer(String containerId, CreateContainerRequest request, Optional<Path> logPath);

    /** Starts a created container. Unknown id: NOT_FOUND; not in CREATED state: FAILED_PRECONDITION. */
    void startContainer(String containerId);

    /**
     * Sends the stop signal and waits up to {@code gracePeriod} before killing. Idempotent on an exited
     * container. Returns false if no container has this id.
     */
    boolean stopContainer(String containerId, Duration gracePeriod);

    /** Forcibly stops (if running) and removes a container. Returns false if it did not exist. */
    boolean removeContainer(String containerId);

    /** Status of one container; empty if unknown. {@code info} only when verbose. */
    Optional<ContainerStatusResponse> containerStatus(String containerId, boolean verbose);

    /** Every container on this node; the shim applies the kubelet's filter. */
    List<Container> listContainers();

    /** Applies new limits to a running or created container. */
    void updateContainerResources(UpdateContainerResourcesRequest request);

    /**
     * Runs a command to completion in the container. {@code timeout} is {@link Duration#ZERO} for none; when it
     * expires the command is killed and DEADLINE_EXCEEDED thrown. Each of stdout and stderr must be capped at
     * {@link #EXEC_SYNC_OUTPUT_CAP} bytes, dropping the rest (CVE-2022-1708).
     */
    ExecSyncResponse execSync(String containerId, List<String> command, Duration timeout);

    /** Resource usage of one container; empty if unknown. */
    Optional<ContainerStats> containerStats(String containerId);

    /** Resource usage of every running container; the shim applies the kubelet's filter. */
    List<ContainerStats> listContainerStats();

    /** Largest ExecSync stdout or stderr returned, as the CRI asks: 16 MiB. */
    int EXEC_SYNC_OUTPUT_CAP = 16 << 20;
}
