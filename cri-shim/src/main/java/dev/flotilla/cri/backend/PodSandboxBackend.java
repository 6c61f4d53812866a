package dev.flotilla.cri.backend;

import dev.flotilla.cri.v1.PodSandbox;
import dev.flotilla.cri.v1.PodSandboxStats;
import dev.flotilla.cri.v1.PodSandboxStatusResponse;
import dev.flotilla.cri.v1.RunPodSandboxRequest;
import dev.flotilla.cri.v1.UpdatePodSandboxResourcesRequest;

import java.util.List;
import java.util.Optional;

/**
 * Pod sandboxes as microVMs: implemented by the node-agent with its sandbox runtime (VM, guest agent, CNI).
 *
 * <p>The shim has already validated every request (metadata present, ids well formed, runtime handler known) and
 * reserved the sandbox name, so an implementation only does the work. Ids are chosen by the shim (64 lowercase hex
 * digits, safe as file and VM names). Failures are reported as {@link dev.flotilla.cri.CriException}; anything else
 * thrown is reported to the kubelet as an internal error.
 */
public interface PodSandboxBackend {

    /**
     * Creates the sandbox's network namespace and microVM and returns once it is ready (state SANDBOX_READY).
     * On failure nothing of it may be left behind: the kubelet will retry with a new attempt number.
     */
    void runPodSandbox(String sandboxId, RunPodSandboxRequest request);

    /**
     * Stops every container and the microVM and releases network resources; the sandbox stays listed as
     * SANDBOX_NOTREADY. Idempotent. Returns false if no sandbox has this id.
     */
    boolean stopPodSandbox(String sandboxId);

    /** Forcibly stops and removes the sandbox and its containers. Returns false if it did not exist. */
    boolean removePodSandbox(String sandboxId);

    /** Status of one sandbox, with its containers' statuses; empty if unknown. {@code info} only when verbose. */
    Optional<PodSandboxStatusResponse> podSandboxStatus(String sandboxId, boolean verbose);

    /** Every sandbox on this node, ready or not; the shim applies the kubelet's filter. */
    List<PodSandbox> listPodSandboxes();

    /** Resource usage of one sandbox; empty if unknown. */
    Optional<PodSandboxStats> podSandboxStats(String sandboxId);

    /** Resource usage of every sandbox; the shim applies the kubelet's filter. */
    List<PodSandboxStats> listPodSandboxStats();

    /** Best effort resize of the microVM after the kubelet resized the pod cgroup. */
    default void updatePodSandboxResources(UpdatePodSandboxResourcesRequest request) {
        throw dev.flotilla.cri.CriException.unimplemented(
                "in-place pod resize is not supported by Flotilla yet; the pod keeps the size it was created with");
    }
}
