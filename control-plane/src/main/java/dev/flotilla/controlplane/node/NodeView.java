package dev.flotilla.controlplane.node;

import com.fasterxml.jackson.annotation.JsonInclude;
import dev.flotilla.contract.v1.NodeCapacity;
import dev.flotilla.contract.v1.NodeUsage;
import dev.flotilla.contract.v1.Taint;

import java.time.Instant;
import java.util.List;
import java.util.Map;
import java.util.UUID;

/** A node as the API shows it: allocated is what the scheduler reserved, usage what the agent measured. */
@JsonInclude(JsonInclude.Include.NON_NULL)
public record NodeView(UUID id, String name, String state, boolean cordoned, String kvmKind, String agentEndpoint,
                       String agentVersion, Map<String, String> labels, List<Taint> taints, NodeCapacity capacity,
                       NodeCapacity allocated, NodeUsage usage, Instant registeredAt, Instant lastHeartbeatAt) {

    public static NodeView of(NodeEntity node) {
        return new NodeView(node.id, node.name, node.state, node.cordoned, node.kvmKind, node.agentEndpoint,
                node.agentVersion, node.labels, node.taints, new NodeCapacity(node.capVcpus, node.capMemoryMiB, node.capMaxVms),
                new NodeCapacity(node.allocVcpus, node.allocMemoryMiB, node.allocVms),
                new NodeUsage(node.usedVcpus, node.usedMemoryMiB, node.usedVms), node.registeredAt, node.lastHeartbeatAt);
    }
}
