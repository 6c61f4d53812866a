package dev.flotilla.controlplane.ui;

import dev.flotilla.controlplane.sandbox.SandboxEntity;
import io.quarkus.qute.TemplateData;

import java.time.Instant;

/** A sandbox as the dashboard lists it. */
@TemplateData
public record SandboxRow(String id, String name, String observedState, String desiredState, String node, String image,
                         int vcpus, String memory, String labels, String bootTime, String age, String message,
                         int restarts) {

    static SandboxRow of(SandboxEntity sandbox, Instant now) {
        return new SandboxRow(sandbox.id.toString(), sandbox.name, sandbox.observedState, sandbox.desiredState,
                sandbox.nodeId == null ? "" : sandbox.lastNodeName, sandbox.image, sandbox.vcpus,
                Format.mebibytes(sandbox.memoryMiB), Format.labels(sandbox.labels),
                sandbox.bootTimeMs == null ? "–" : Format.millis(sandbox.bootTimeMs.doubleValue()),
                Format.age(sandbox.createdAt, now), sandbox.message == null ? "" : sandbox.message, sandbox.restarts);
    }
}
