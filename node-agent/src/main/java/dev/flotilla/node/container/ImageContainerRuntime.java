package dev.flotilla.node.container;

import dev.flotilla.agent.protocol.ExitStatus;
import dev.flotilla.containers.ContainerException;
import dev.flotilla.containers.ContainerImages;
import dev.flotilla.containers.ContainerSandbox;
import dev.flotilla.images.ImageStore;
import dev.flotilla.images.StoreConfig;
import dev.flotilla.node.api.ApiException;
import dev.flotilla.node.config.NodeConfig;
import dev.flotilla.node.sandbox.SandboxRecord.NetAttachment;
import dev.flotilla.node.sandbox.SandboxSpec;
import dev.flotilla.vmm.MicroVm;
import io.quarkus.runtime.StartupEvent;
import jakarta.enterprise.context.ApplicationScoped;
import jakarta.enterprise.event.Observes;
import jakarta.inject.Inject;
import org.jboss.logging.Logger;

import java.net.URI;
import java.net.URISyntaxException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.TreeMap;
import java.util.concurrent.ConcurrentHashMap;

/**
 * Runs a sandbox's OCI image: pulls it into the node's image store (or uses the stored one), hands its erofs root
 * to the VM builder, and once the guest is up reaches the guest agent, configures the sandbox (host name, the tap's
 * address and gateway) and runs container {@value #MAIN} from the image config or the request's command. The main
 * container's exit ends the sandbox (STOPPED, or FAILED when non-zero or killed); losing the guest agent ends it
 * FAILED with the reason.
 */
@ApplicationScoped
public class ImageContainerRuntime implements ContainerRuntime {
    private static final Logger LOG = Logger.getLogger(ImageContainerRuntime.class);
    /** The id of the container a sandbox is created with. */
    public static final String MAIN = "main";

    @Inject
    NodeConfig config;

    private volatile ContainerImages images;
    private final Map<String, ContainerSandbox> running = new ConcurrentHashMap<>();

    /** Registry settings are checked at start-up, not at the first pull (the store opens on first use). */
    void checkRegistrySettings(@Observes StartupEvent event) {
        mirrors(config.containers().mirrors());
    }

    /**
     * {@code flotilla.node.containers.mirrors} as the image store takes it: registry host to mirror URLs in order.
     * A value that is not a list of http(s) base URLs stops the agent at start-up with the key in the message.
     */
    static Map<String, List<URI>> mirrors(Map<String, String> configured) {
        Map<String, List<URI>> mirrors = new TreeMap<>();
        configured.forEach((host, value) -> {
            List<URI> urls = new ArrayList<>();
            for (String part : value.split(",")) {
                if (part.isBlank()) {
                    continue;
                }
                try {
                    urls.add(new URI(part.strip()));
                } catch (URISyntaxException e) {
                    throw new IllegalArgumentException("flotilla.node.containers.mirrors.\"" + host + "\": '" + part.strip()
                            + "' is not a URL (" + e.getReason() + ")");
                }
            }
            mirrors.put(host, urls);
        });
        try {
            return StoreConfig.defaults(Path.of(".")).withRegistryMirrors(mirrors).registryMirrors();
        } catch (IllegalArgumentException e) {
            throw new IllegalArgumentException("flotilla.node.containers.mirrors: " + e.getMessage(), e);
        }
    }

    /** The node's image store with its root filesystems (opened on first use); the CRI image service uses it too. */
    public ContainerImages images() {
        ContainerImages i = images;
        if (i == null) {
            synchronized (this) {
                if (images == null) {
                    Path dir = Path.of(config.containers().imageStoreDir().orElse(config.stateDir() + "/images"));
                    StoreConfig store = StoreConfig.defaults(dir)
                            .withPlainHttpRegistries(Set.copyOf(config.containers().insecureRegistries().orElse(List.of())))
                            .withRegistryMirrors(mirrors(config.containers().mirrors()));
                    images = new ContainerImages(ImageStore.open(store));
                }
                i = images;
            }
        }
        return i;
    }

    @Override
    public boolean available() {
        return config.containers().enabled();
    }

    @Override
    public String unavailableReason() {
        return available() ? "" : "containers are disabled on this node (flotilla.node.containers.enabled=false)";
    }

    @Override
    public Optional<Path> prepare(SandboxSpec spec) {
        if (spec.image() == null) {
            return Optional.empty();
        }
        if (!available()) {
            throw new ApiException(501, "sandbox %s asks for image %s, but %s".formatted(spec.name(), spec.image(), unavailableReason()));
        }
        try {
            return Optional.of(images().prepare(spec.image()).rootfs());
        } catch (ContainerException e) {
            // The reference, the registry's answer or the unpack was wrong: the request cannot be served as given.
            throw new ApiException(422, "sandbox " + spec.name() + ": " + e.getMessage());
        }
    }

    @Override
    public void started(SandboxSpec spec, MicroVm vm, Optional<NetAttachment> network, Outcome outcome) {
        Thread.ofVirtual().name("containers-" + spec.id()).start(() -> {
            ContainerImages.RootImage root;
            try {
                // Already in the store since prepare(): a lookup, no registry round trip (kept nowhere in between,
                // so a sandbox refused at admission leaves nothing behind).
                root = images().prepare(spec.image());
            } catch (ContainerException e) {
                outcome.end(true, e.getMessage());
                return;
            }
            connectAndRun(spec, vm, root, network, outcome);
        });
    }

    private void connectAndRun(SandboxSpec spec, MicroVm vm, ContainerImages.RootImage root, Optional<NetAttachment> network,
                               Outcome outcome) {
        String hostname = spec.pod() != null && !spec.pod().hostname().isEmpty() ? spec.pod().hostname() : spec.name();
        ContainerSandbox.Settings settings = new ContainerSandbox.Settings(hostname,
                network.map(n -> new ContainerSandbox.Network(n.address() + "/" + n.prefixLength(), n.gateway())), List.of());
        ContainerSandbox.Events events = new ContainerSandbox.Events() {
            @Override
            public void containerExited(String containerId, ExitStatus status) {
                if (spec.pod() == null && MAIN.equals(containerId)) {
                    boolean failed = status.getExitCode() != 0;
                    outcome.end(failed, status.getSignal() != 0
                            ? "container main was killed by signal " + status.getSignal()
                            : "container main exited with code " + status.getExitCode());
                }
            }

            @Override
            public void agentLost(String reason) {
                outcome.end(true, "the guest agent was lost: " + reason);
            }
        };
        try {
            ContainerSandbox sandbox = ContainerSandbox.connect(spec.name(), vm, root.image().config(), settings,
                    config.containers().agentTimeout(), events);
            running.put(spec.id(), sandbox);
            if (spec.pod() != null) {
                // A CRI pod: the kubelet creates its containers through the CRI.
                LOG.debugf("pod sandbox %s: guest agent connected", spec.id());
                return;
            }
            sandbox.run(MAIN, spec.command(), List.of());
            LOG.infof("sandbox %s: container main of %s started", spec.id(), spec.image());
        } catch (ContainerException e) {
            LOG.warnf("sandbox %s: %s", spec.id(), e.getMessage());
            outcome.end(true, e.getMessage());
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }

    @Override
    public void ended(String sandboxId) {
        ContainerSandbox s = running.get(sandboxId);
        if (s != null) {
            s.close();
        }
    }

    @Override
    public void deleted(String sandboxId) {
        ended(sandboxId);
        running.remove(sandboxId);
    }

    @Override
    public ContainerSandbox containers(SandboxSpec spec) {
        if (spec.image() == null) {
            throw new ApiException(409, "sandbox " + spec.name() + " was created without an image and runs no containers");
        }
        ContainerSandbox s = running.get(spec.id());
        if (s == null) {
            throw new ApiException(409, "sandbox " + spec.name() + " has no guest agent connection yet (it is still starting, or it failed before its agent answered)");
        }
        return s;
    }
}
