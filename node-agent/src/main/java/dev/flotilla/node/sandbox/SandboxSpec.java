package dev.flotilla.node.sandbox;

import dev.flotilla.node.vm.GuestKind;

import java.util.List;
import java.util.Map;

/**
 * A validated request for one sandbox, whichever API it came through. Immutable: a new generation of a
 * sandbox is a new spec.
 *
 * @param id         identifier (the contract's sandboxId, or generated)
 * @param name       DNS-label name, unique on the node
 * @param guest      what the VM boots
 * @param image      OCI image for the container runtime, or null
 * @param command    command for the container, empty for the image's default
 * @param vcpus      vCPUs
 * @param memoryMiB  guest memory
 * @param labels     free-form labels
 * @param generation spec generation (the contract's), 0 for API-created sandboxes
 * @param network    give the VM a tap on the node's bridge
 * @param kernelArgs extra kernel command line for Linux guests
 * @param pod        set for a Kubernetes pod sandbox served through the CRI: its containers are created one by one
 *                   through the CRI instead of a container {@code main} at boot; null otherwise
 */
public record SandboxSpec(String id, String name, GuestKind guest, String image, List<String> command, int vcpus,
                          long memoryMiB, Map<String, String> labels, long generation, boolean network,
                          String kernelArgs, PodSettings pod) {
    public SandboxSpec {
        command = command == null ? List.of() : List.copyOf(command);
        labels = labels == null ? Map.of() : Map.copyOf(labels);
        kernelArgs = kernelArgs == null ? "" : kernelArgs;
    }

    /** A sandbox of the node's own API or the control plane's contract (not a CRI pod). */
    public SandboxSpec(String id, String name, GuestKind guest, String image, List<String> command, int vcpus,
                       long memoryMiB, Map<String, String> labels, long generation, boolean network, String kernelArgs) {
        this(id, name, guest, image, command, vcpus, memoryMiB, labels, generation, network, kernelArgs, null);
    }

    /**
     * What a CRI pod sandbox asks of its guest.
     *
     * @param hostname the pod's host name (PodSandboxConfig.hostname), given to every container
     * @param cni      the pod's CNI network (address, gateway, eth0's MAC) and the tap to create for it, or null when
     *                 the pod uses the agent's own bridge ({@link #network()}) or none
     * @param netns    the pod's network namespace ({@code ip netns} name) the tap is moved into, with {@code cni}
     */
    public record PodSettings(String hostname, SandboxRecord.NetAttachment cni, String netns) {
        public PodSettings(String hostname) {
            this(hostname, null, null);
        }
    }
}
