package dev.flotilla.node.sandbox;

import java.util.List;
import java.util.Map;

/**
 * Body of {@code POST /api/v1/sandboxes}. Every field but {@code name} is optional; {@link SandboxValidator}
 * reports every problem at once.
 *
 * @param name       DNS label, unique on the node
 * @param guest      {@code tiny} (default without image) or {@code linux}
 * @param image      OCI image to run as a container (needs guest linux and the container runtime)
 * @param command    command for the container
 * @param vcpus      1 to 32, default 1
 * @param memoryMiB  16 to 1048576, default 16 (tiny) or 256 (linux)
 * @param labels     free-form labels (Kubernetes label syntax)
 * @param network    attach a tap on the node's bridge (default: whether the node has networking on)
 * @param kernelArgs extra kernel command line (linux only)
 */
public record CreateSandboxRequest(String name, String guest, String image, List<String> command, Integer vcpus,
                                   Long memoryMiB, Map<String, String> labels, Boolean network, String kernelArgs) {
}
