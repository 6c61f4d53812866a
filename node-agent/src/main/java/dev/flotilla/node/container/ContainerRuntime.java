package dev.flotilla.node.container;

import dev.flotilla.containers.ContainerSandbox;
import dev.flotilla.node.api.ApiException;
import dev.flotilla.node.sandbox.SandboxRecord.NetAttachment;
import dev.flotilla.node.sandbox.SandboxSpec;
import dev.flotilla.vmm.MicroVm;

import java.util.Optional;

/**
 * Where containers plug into sandboxes. The agent calls {@link #prepare} before it builds a VM for a spec with
 * an image (the image as a read-only root block device, module node-agent/images), wires the VM with
 * {@link dev.flotilla.containers.GuestWiring}, calls {@link #started} once the guest signalled boot (the in-guest
 * agent over vsock, module node-agent/agent-client) and {@link #ended} when the VM is gone.
 */
public interface ContainerRuntime {

    /** True when this runtime can run images; the container endpoints answer 501 otherwise. */
    boolean available();

    /**
     * Readies what the VM of {@code spec} needs for its image (a root filesystem block image path), before the
     * VM is built. Empty when the spec has no image.
     */
    Optional<java.nio.file.Path> prepare(SandboxSpec spec);

    /** Why containers are not available, for the 501 answer. */
    String unavailableReason();

    /** How the runtime ends a sandbox: its container exited, or its guest agent was lost. */
    interface Outcome {
        void end(boolean failed, String message);
    }

    /**
     * The VM of {@code spec} (prepared with an image) signalled boot: reach its guest agent, set the sandbox up
     * and run its container. Returns at once; failures and the container's exit arrive through {@code outcome}.
     */
    default void started(SandboxSpec spec, MicroVm vm, Optional<NetAttachment> network, Outcome outcome) {
    }

    /** The sandbox's VM is gone: drop its agent connection; its containers' logs stay readable. */
    default void ended(String sandboxId) {
    }

    /** The sandbox was deleted: forget its containers. */
    default void deleted(String sandboxId) {
    }

    /** The containers of a running sandbox; 409 while its agent is not connected yet or any more. */
    default ContainerSandbox containers(SandboxSpec spec) {
        throw new ApiException(501, "cannot reach the containers of sandbox " + spec.name() + ": " + unavailableReason());
    }
}
