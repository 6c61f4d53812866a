package dev.flotilla.controlplane.ui;

import dev.flotilla.contract.v1.Taint;
import dev.flotilla.controlplane.node.NodeEntity;
import io.quarkus.qute.TemplateData;

import java.time.Instant;
import java.util.List;
import java.util.stream.Collectors;

/** A node as the dashboard lists it. */
@TemplateData
public record NodeRow(String id, String name, String state, boolean ready, boolean cordoned, String kvmKind,
                      String kvmNote, String labels, String taints, String lastHeartbeat, String agentVersion,
                      String endpoint, List<Usage> usages, int vms) {

    static NodeRow of(NodeEntity node, Instant now) {
        String kvmNote = switch (node.kvmKind) {
            case "HARDWARE" -> "hardware virtualization: stock Linux guests run natively";
            case "PVM" -> "PVM: only PVM-enlightened guest kernels run natively";
            case "NONE" -> "no usable /dev/kvm";
            default -> "KVM kind not reported";
        };
        String taints = node.taints == null ? "" : node.taints.stream().map(NodeRow::taint).collect(Collectors.joining(", "));
        List<Usage> usages = List.of(
                Usage.of("vCPUs", node.allocVcpus, node.usedVcpus, node.capVcpus, n -> n + ""),
                Usage.of("Memory", node.allocMemoryMiB, node.usedMemoryMiB, node.capMemoryMiB, Format::mebibytes),
                Usage.of("VMs", node.allocVms, node.usedVms, node.capMaxVms, n -> n + ""));
        return new NodeRow(node.id.toString(), node.name, node.state, NodeEntity.READY.equals(node.state), node.cordoned,
                node.kvmKind.toLowerCase(), kvmNote, Format.labels(node.labels), taints, Format.age(node.lastHeartbeatAt, now),
                node.agentVersion == null ? "" : node.agentVersion, node.agentEndpoint == null ? "" : node.agentEndpoint,
                usages, node.usedVms);
    }

    private static String taint(Taint taint) {
        String effect = taint.effect() == null ? "?" : Format.effect(taint.effect());
        return taint.key() + (taint.value() == null ? "" : "=" + taint.value()) + ":" + effect;
    }
}
