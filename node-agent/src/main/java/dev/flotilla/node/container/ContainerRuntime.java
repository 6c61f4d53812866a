package dev.flotilla.node.container;

import dev.flotilla.node.sandbox.SandboxSpec;

import java.util.Optional;

/**
 * Where containers plug into sandboxes. The agent calls {@link #prepare} before it builds a VM for a spec with
 * an image (to turn the image into a read-only root block device: module node-agent/images) and talks to the
 * in-guest agent over vsock for everything after boot (module node-agent/agent-client). Until both exist,
 * {@link UnavailableContainerRuntime} answers every call with a clear "not implemented".
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
}
