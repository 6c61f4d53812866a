package dev.flotilla.controlplane.sandbox;

import com.fasterxml.jackson.annotation.JsonInclude;

import java.time.Instant;
import java.util.List;
import java.util.Map;
import java.util.UUID;

/** A sandbox as the API shows it. */
@JsonInclude(JsonInclude.Include.NON_NULL)
public record SandboxView(
        UUID id,
        String name,
        String image,
        List<String> command,
        int vcpus,
        long memoryMiB,
        Map<String, String> labels,
        Map<String, String> nodeSelector,
        List<TolerationSpec> tolerations,
        Map<String, String> antiAffinity,
        RestartPolicy restartPolicy,
        String desiredState,
        String observedState,
        String node,
        String message,
        long generation,
        int restarts,
        Long bootTimeMillis,
        Instant createdAt,
        Instant placedAt) {

    public static SandboxView of(SandboxEntity entity, String nodeName) {
        return new SandboxView(entity.id, entity.name, entity.image, entity.command, entity.vcpus, entity.memoryMiB,
                entity.labels, entity.nodeSelector, entity.tolerations, entity.antiAffinity,
                RestartPolicy.valueOf(entity.restartPolicy), entity.desiredState, entity.observedState, nodeName,
                entity.message, entity.generation, entity.restarts, entity.bootTimeMs, entity.createdAt, entity.placedAt);
    }
}
