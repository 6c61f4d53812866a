package dev.flotilla.node.cri;

import dev.flotilla.cri.CriConfig;
import dev.flotilla.cri.CriServer;
import dev.flotilla.cri.backend.CriBackends;
import dev.flotilla.cri.logs.ContainerLogs;
import dev.flotilla.cri.streaming.StreamingServer;
import dev.flotilla.node.config.NodeConfig;
import dev.flotilla.node.container.ImageContainerRuntime;
import dev.flotilla.node.sandbox.SandboxManager;
import io.quarkus.runtime.ShutdownEvent;
import io.quarkus.runtime.StartupEvent;
import jakarta.annotation.Priority;
import jakarta.enterprise.event.Observes;
import jakarta.inject.Inject;
import jakarta.inject.Singleton;
import org.jboss.logging.Logger;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.net.InetSocketAddress;
import java.nio.file.Path;
import java.util.Optional;

/**
 * Serves the Kubernetes CRI on {@code flotilla.node.cri.socket} while the agent runs, when
 * {@code flotilla.node.cri.enabled=true}. It closes before the sandbox manager stops the VMs at shutdown, so the
 * kubelet sees the socket go away rather than pods failing under it.
 */
@Singleton
public class CriEndpoint {
    private static final Logger LOG = Logger.getLogger(CriEndpoint.class);

    @Inject
    NodeConfig config;
    @Inject
    SandboxManager sandboxes;
    @Inject
    ImageContainerRuntime containers;

    private volatile CriServer server;
    private volatile StreamingServer streaming;

    void onStart(@Observes StartupEvent event) {
        if (!config.cri().enabled()) {
            return;
        }
        NodeConfig.Cri cri = config.cri();
        CriConfig criConfig = CriConfig.defaults()
                .withSocket(Path.of(cri.socket()))
                .withHandlers(cri.runtimeHandlers())
                .withCni(Path.of(cri.cniConfDir()), cri.cniBinDirs().stream().map(Path::of).toList());
        ContainerLogs logs = new ContainerLogs();
        CriImages images = new CriImages(containers::images);
        CriPods podBackend = new CriPods(sandboxes, containers, images, logs, config);
        int leftovers = podBackend.removeLeftovers();
        if (leftovers > 0) {
            LOG.infof("CRI: removed %d pod sandboxes left by a previous agent process", leftovers);
        }
        try {
            streaming = StreamingServer.start(new InetSocketAddress(cri.streamingAddress(), cri.streamingPort()), podBackend,
                    podBackend, podBackend);
        } catch (IOException e) {
            throw new UncheckedIOException("the CRI streaming server (exec, attach, port-forward) could not start (flotilla.node.cri.streaming-address "
                    + cri.streamingAddress() + ", streaming-port " + cri.streamingPort() + "): " + e.getMessage(), e);
        }
        CriBackends backends = CriBackends.none().withImages(images).withSandboxes(podBackend)
                .withContainers(podBackend).withStreaming(streaming)
                .withReadiness(new CriReadiness(sandboxes, config, podBackend.guest()));
        try {
            server = CriServer.start(criConfig, backends, logs);
        } catch (IOException e) {
            streaming.close();
            throw new UncheckedIOException("the CRI endpoint could not start (flotilla.node.cri.socket = "
                    + cri.socket() + "): " + e.getMessage(), e);
        }
        LOG.infof("CRI v1 on unix://%s: pod sandboxes boot the %s guest; exec, attach and port-forward streams on %s", cri.socket(), cri.guest(),
                streaming.address());
    }

    /** Before the sandbox manager's own shutdown observer (default priority) stops the VMs. */
    void onStop(@Observes @Priority(100) ShutdownEvent event) {
        CriServer s = server;
        if (s != null) {
            server = null;
            s.close();
        }
        StreamingServer exec = streaming;
        if (exec != null) {
            streaming = null;
            exec.close();
        }
    }

    /** The socket served, while serving. */
    public Optional<Path> socket() {
        CriServer s = server;
        return s == null ? Optional.empty() : Optional.of(s.socket());
    }
}
