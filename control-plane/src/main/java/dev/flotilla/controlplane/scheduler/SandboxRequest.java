package dev.flotilla.controlplane.scheduler;

import java.util.List;
import java.util.Map;
import java.util.UUID;

/**
 * What the scheduler needs to know about a sandbox waiting for a node.
 *
 * @param antiAffinity labels: the sandbox prefers nodes running no sandbox that carries all of them
 */
public record SandboxRequest(
        UUID id,
        String name,
        Resources resources,
        Map<String, String> labels,
        Map<String, String> nodeSelector,
        List<Toleration> tolerations,
        Map<String, String> antiAffinity) {

    public SandboxRequest {
        labels = Map.copyOf(labels);
        nodeSelector = Map.copyOf(nodeSelector);
        tolerations = List.copyOf(tolerations);
        antiAffinity = Map.copyOf(antiAffinity);
    }
}
