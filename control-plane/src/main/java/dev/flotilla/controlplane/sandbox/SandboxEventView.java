package dev.flotilla.controlplane.sandbox;

import com.fasterxml.jackson.annotation.JsonInclude;

import java.time.Instant;
import java.util.UUID;

/** One history entry of a sandbox. */
@JsonInclude(JsonInclude.Include.NON_NULL)
public record SandboxEventView(long id, UUID sandboxId, Instant at, String type, String node, String message) {
    public static SandboxEventView of(SandboxEventEntity event) {
        return new SandboxEventView(event.id, event.sandboxId, event.at, event.type, event.nodeName, event.message);
    }
}
