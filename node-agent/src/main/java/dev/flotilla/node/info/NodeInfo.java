package dev.flotilla.node.info;

import com.fasterxml.jackson.annotation.JsonInclude;
import dev.flotilla.contract.v1.KvmKind;

import java.time.Instant;
import java.util.Map;

/** Body of {@code GET /api/v1/node}: what this node is, offers, uses and runs. */
@JsonInclude(JsonInclude.Include.NON_NULL)
public record NodeInfo(String name, String agentVersion, String instance, Kvm kvm, Host host, Resources capacity,
                       Resources used, Overcommit overcommit, Map<String, Long> sandboxesByState, Network network,
                       Containers containers, ControlPlane controlPlane, Jvm jvm) {

    public record Kvm(KvmKind kind, String description, boolean linuxGuests) {
    }

    public record Host(int cpus, long memoryMiB, long memAvailableMiB) {
    }

    public record Resources(int vcpus, long memoryMiB, int vms) {
    }

    public record Overcommit(double cpu, double memory, long reservedMemoryMiB) {
    }

    /**
     * {@code bridge} and {@code gateway} are the first subnet's; {@code bridges} lists every bridge up (one per
     * {@code /bridgePrefixLength} subnet of the pool in use).
     */
    @JsonInclude(JsonInclude.Include.NON_NULL)
    public record Network(boolean enabled, String bridge, String pool, String gateway, boolean nat,
                          boolean sandboxToSandbox, boolean nodeApiFromSandboxes, Integer bridgePrefixLength,
                          java.util.List<String> bridges) {
    }

    public record Containers(boolean available, String reason) {
    }

    @JsonInclude(JsonInclude.Include.NON_NULL)
    public record ControlPlane(String url, String state, String nodeId, Instant lastHeartbeat, String lastError) {
    }

    public record Jvm(long heapUsedBytes, long heapMaxBytes, int threads, long residentBytes) {
    }
}
