package dev.flotilla.node.container;

import dev.flotilla.node.api.ApiException;
import dev.flotilla.node.sandbox.SandboxSpec;
import io.quarkus.arc.DefaultBean;
import jakarta.enterprise.context.ApplicationScoped;

import java.nio.file.Path;
import java.util.Optional;

/** The runtime until the images and agent-client modules are wired in: sandboxes without images only. */
@ApplicationScoped
@DefaultBean
public class UnavailableContainerRuntime implements ContainerRuntime {
    static final String REASON = "containers are not available on this node agent yet: running an OCI image needs the "
            + "image service (node-agent/images) and the in-guest agent client (node-agent/agent-client), which are "
            + "not part of this build; sandboxes with guest 'tiny' or 'linux' and no image work";

    @Override
    public boolean available() {
        return false;
    }

    @Override
    public Optional<Path> prepare(SandboxSpec spec) {
        if (spec.image() == null) {
            return Optional.empty();
        }
        throw new ApiException(501, "sandbox %s asks for image %s, but %s".formatted(spec.name(), spec.image(), REASON));
    }

    @Override
    public String unavailableReason() {
        return REASON;
    }
}
