package dev.flotilla.cri.backend;

import java.util.Optional;

/**
 * The parts of the node-agent the CRI shim calls. Each may be absent while the node-agent does not provide it
 * yet; the calls needing it then answer UNIMPLEMENTED with a message naming the missing part.
 */
public record CriBackends(Optional<PodSandboxBackend> sandboxes,
                          Optional<ContainerBackend> containers,
                          Optional<ImageBackend> images,
                          Optional<StreamingBackend> streaming,
                          Optional<RuntimeReadiness> readiness) {

    /** Nothing attached: Version, Status, UpdateRuntimeConfig and RuntimeConfig still work. */
    public static CriBackends none() {
        return new CriBackends(Optional.empty(), Optional.empty(), Optional.empty(), Optional.empty(),
                Optional.empty());
    }

    public CriBackends withSandboxes(PodSandboxBackend backend) {
        return new CriBackends(Optional.of(backend), containers, images, streaming, readiness);
    }

    public CriBackends withContainers(ContainerBackend backend) {
        return new CriBackends(sandboxes, Optional.of(backend), images, streaming, readiness);
    }

    public CriBackends withImages(ImageBackend backend) {
        return new CriBackends(sandboxes, containers, Optional.of(backend), streaming, readiness);
    }

    public CriBackends withStreaming(StreamingBackend backend) {
        return new CriBackends(sandboxes, containers, images, Optional.of(backend), readiness);
    }

    public CriBackends withReadiness(RuntimeReadiness check) {
        return new CriBackends(sandboxes, containers, images, streaming, Optional.of(check));
    }
}
