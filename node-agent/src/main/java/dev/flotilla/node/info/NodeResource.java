package dev.flotilla.node.info;

import dev.flotilla.contract.v1.KvmKind;
import dev.flotilla.node.capacity.Capacity;
import dev.flotilla.node.capacity.ResourceLedger;
import dev.flotilla.node.config.NodeConfig;
import dev.flotilla.node.container.ContainerRuntime;
import dev.flotilla.node.contract.ControlPlaneLink;
import dev.flotilla.node.sandbox.Sandbox;
import dev.flotilla.node.sandbox.SandboxManager;
import jakarta.inject.Inject;
import jakarta.ws.rs.GET;
import jakarta.ws.rs.Path;
import jakarta.ws.rs.Produces;
import jakarta.ws.rs.core.MediaType;
import org.eclipse.microprofile.openapi.annotations.Operation;
import org.eclipse.microprofile.openapi.annotations.security.SecurityRequirement;
import org.eclipse.microprofile.openapi.annotations.tags.Tag;

import java.lang.management.ManagementFactory;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;

@Path("/api/v1/node")
@Produces(MediaType.APPLICATION_JSON)
@Tag(name = "node")
@SecurityRequirement(name = "bearer")
public class NodeResource {
    public static final String AGENT_VERSION = "flotilla-node-agent 0.1.0";

    @Inject
    SandboxManager sandboxes;
    @Inject
    NodeConfig config;
    @Inject
    ContainerRuntime containers;
    @Inject
    ControlPlaneLink controlPlane;

    @GET
    @Operation(summary = "This node: KVM kind, capacity after overcommit, usage, sandboxes by state, control-plane link, agent JVM")
    public NodeInfo info() {
        HostFacts host = sandboxes.host();
        Capacity cap = sandboxes.ledger().capacity();
        ResourceLedger.Usage used = sandboxes.ledger().usage();
        Map<String, Long> byState = new TreeMap<>();
        for (Sandbox s : sandboxes.all()) {
            byState.merge(s.state().name(), 1L, Long::sum);
        }
        NodeConfig.Network n = config.network();
        var net = sandboxes.network();
        return new NodeInfo(controlPlane.nodeName(), AGENT_VERSION, sandboxes.instance(),
                new NodeInfo.Kvm(host.kvmKind(), host.kvmSentence(), host.kvmKind() == KvmKind.HARDWARE),
                new NodeInfo.Host(host.cpus(), host.memoryMiB(), HostFacts.memAvailableMiB()),
                new NodeInfo.Resources(cap.vcpus(), cap.memoryMiB(), cap.maxVms()),
                new NodeInfo.Resources(used.vcpus(), used.memoryMiB(), used.vms()),
                new NodeInfo.Overcommit(config.capacity().cpuOvercommit(), config.capacity().memoryOvercommit(),
                        config.capacity().reservedMemoryMib()),
                byState,
                new NodeInfo.Network(n.enabled(), n.enabled() ? n.bridge() : null, n.enabled() ? net.pool().cidr() : null,
                        n.enabled() ? net.pool().gateway() : null, n.nat(), n.allowSandboxToSandbox(), n.allowNodeApi(),
                        n.enabled() ? net.pool().prefixLength() : null, n.enabled() ? net.bridges() : List.of()),
                new NodeInfo.Containers(containers.available(), containers.available() ? null : containers.unavailableReason()),
                controlPlane.view(),
                jvm());
    }

    static NodeInfo.Jvm jvm() {
        var heap = ManagementFactory.getMemoryMXBean().getHeapMemoryUsage();
        return new NodeInfo.Jvm(heap.getUsed(), heap.getMax(), ManagementFactory.getThreadMXBean().getThreadCount(),
                ProcessMemory.residentBytes());
    }

}
