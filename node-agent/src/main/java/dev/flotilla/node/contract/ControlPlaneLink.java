package dev.flotilla.node.contract;

import com.fasterxml.jackson.databind.ObjectMapper;
import dev.flotilla.contract.v1.ContractVersion;
import dev.flotilla.contract.v1.ControlPlanePaths;
import dev.flotilla.contract.v1.Heartbeat;
import dev.flotilla.contract.v1.HeartbeatAck;
import dev.flotilla.contract.v1.NodeCapacity;
import dev.flotilla.contract.v1.NodeRegistration;
import dev.flotilla.contract.v1.NodeRegistrationAccepted;
import dev.flotilla.contract.v1.NodeUsage;
import dev.flotilla.contract.v1.VmReport;
import dev.flotilla.contract.v1.VmState;
import dev.flotilla.node.api.ApiTokens;
import dev.flotilla.node.capacity.ResourceLedger;
import dev.flotilla.node.config.NodeConfig;
import dev.flotilla.node.info.NodeInfo;
import dev.flotilla.node.info.NodeResource;
import dev.flotilla.node.sandbox.Sandbox;
import dev.flotilla.node.sandbox.SandboxManager;
import dev.flotilla.node.sandbox.SandboxRecord;
import io.quarkus.runtime.ShutdownEvent;
import io.quarkus.runtime.StartupEvent;
import jakarta.enterprise.event.Observes;
import jakarta.inject.Inject;
import jakarta.inject.Singleton;
import org.eclipse.microprofile.config.inject.ConfigProperty;
import org.jboss.logging.Logger;

import java.io.IOException;
import java.net.InetAddress;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;

/**
 * The agent's side of contract v1 towards the control plane: register with the join token, then heartbeat at
 * the interval the control plane asks for, each heartbeat carrying capacity, usage and the complete VM list.
 *
 * <p>The VMs never depend on this link: while the control plane is unreachable the agent keeps running them and
 * retries with exponential backoff (up to {@code retry-max}); when it answers again, the next heartbeat carries
 * the full list, which is all the control plane needs to re-sync. A heartbeat refused as unauthorised or for an
 * unknown node (the control plane lost its state, or this node's token was replaced) leads to a fresh
 * registration under the same name, which keeps the node's identity. One platform thread, whatever the VM count.
 */
@Singleton
public class ControlPlaneLink {
    private static final Logger LOG = Logger.getLogger(ControlPlaneLink.class);

    public enum State { STANDALONE, REGISTERING, CONNECTED, UNREACHABLE, REJECTED }

    @Inject
    NodeConfig config;
    @Inject
    SandboxManager sandboxes;
    @Inject
    ApiTokens tokens;
    @Inject
    ObjectMapper json;
    @ConfigProperty(name = "quarkus.http.port", defaultValue = "7070")
    int httpPort;

    private ScheduledExecutorService loop;
    private HttpClient http;
    private volatile State state = State.STANDALONE;
    private volatile String nodeId;
    private volatile String nodeToken;
    private volatile Duration interval;
    private volatile Duration backoff;
    private volatile Instant lastHeartbeat;
    private volatile String lastError;
    private volatile long heartbeatsSent;

    void start(@Observes StartupEvent event) {
        if (config.controlPlane().url().isEmpty()) {
            LOG.info("no control plane configured (flotilla.node.control-plane.url): running standalone");
            return;
        }
        if (config.controlPlane().joinToken().isEmpty()) {
            state = State.REJECTED;
            lastError = "flotilla.node.control-plane.join-token is not set: the control plane needs it to register this node";
            LOG.error(lastError);
            return;
        }
        interval = config.controlPlane().heartbeatInterval();
        backoff = Duration.ofMillis(500);
        http = HttpClient.newBuilder().connectTimeout(Duration.ofSeconds(5)).version(HttpClient.Version.HTTP_1_1).build();
        loop = Executors.newSingleThreadScheduledExecutor(r -> Thread.ofPlatform().name("control-plane-link").daemon(true).unstarted(r));
        state = State.REGISTERING;
        loop.execute(this::tick);
    }

    void stop(@Observes ShutdownEvent event) {
        if (loop != null) {
            loop.shutdownNow();
        }
    }

    private void tick() {
        Duration next;
        try {
            if (nodeId == null) {
                register();
            } else {
                heartbeat();
            }
            backoff = Duration.ofMillis(500);
            next = interval;
        } catch (Rejected e) {
            lastError = e.getMessage();
            if (e.reRegister) {
                LOG.warnf("%s; registering again", e.getMessage());
                nodeId = null;
                next = Duration.ZERO;
            } else {
                state = State.REJECTED;
                LOG.errorf("%s; retrying in %s", e.getMessage(), config.controlPlane().retryMax());
                next = config.controlPlane().retryMax();
            }
        } catch (IOException e) {
            if (state != State.UNREACHABLE) {
                LOG.warnf("control plane %s is unreachable (%s); the VMs keep running, retrying with backoff",
                        config.controlPlane().url().get(), e.toString());
            }
            state = State.UNREACHABLE;
            lastError = "unreachable: " + e;
            next = backoff;
            Duration doubled = backoff.multipliedBy(2);
            backoff = doubled.compareTo(config.controlPlane().retryMax()) > 0 ? config.controlPlane().retryMax() : doubled;
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            return;
        } catch (RuntimeException e) {
            LOG.errorf(e, "control plane link failed");
            lastError = e.toString();
            next = config.controlPlane().retryMax();
        }
        if (!loop.isShutdown()) {
            loop.schedule(this::tick, next.toMillis(), TimeUnit.MILLISECONDS);
        }
    }

    private void register() throws IOException, InterruptedException {
        NodeRegistration registration = new NodeRegistration(nodeName(), advertiseUrl(), tokens.primary(), capacity(),
                Map.of(), List.of(), sandboxes.host().kvmKind(), NodeResource.AGENT_VERSION);
        HttpResponse<byte[]> response = post(ControlPlanePaths.REGISTER, config.controlPlane().joinToken().get(), registration);
        if (response.statusCode() != 200 && response.statusCode() != 201) {
            throw new Rejected("the control plane refused to register node " + nodeName() + ": " + describe(response), false);
        }
        NodeRegistrationAccepted accepted = json.readValue(response.body(), NodeRegistrationAccepted.class);
        if (accepted.contractVersion() != null && !ContractVersion.CURRENT.equals(accepted.contractVersion())) {
            LOG.warnf("the control plane speaks contract %s, this agent %s", accepted.contractVersion(), ContractVersion.CURRENT);
        }
        nodeId = accepted.nodeId();
        nodeToken = accepted.nodeToken();
        if (accepted.heartbeatIntervalSeconds() > 0) {
            interval = Duration.ofSeconds(accepted.heartbeatIntervalSeconds());
        }
        LOG.infof("registered with the control plane %s as node %s (id %s); heartbeat every %s",
                config.controlPlane().url().get(), nodeName(), nodeId, interval);
        heartbeat(); // report the VMs right away: after a restart or an outage this is the re-sync
    }

    private void heartbeat() throws IOException, InterruptedException {
        HttpResponse<byte[]> response = post(ControlPlanePaths.heartbeat(nodeId), nodeToken, currentHeartbeat());
        int status = response.statusCode();
        if (status == 401 || status == 403 || status == 404 || status == 410) {
            throw new Rejected("the control plane refused the heartbeat of node " + nodeId + ": " + describe(response), true);
        }
        if (status / 100 != 2) {
            throw new IOException("heartbeat answered " + describe(response));
        }
        HeartbeatAck ack = json.readValue(response.body(), HeartbeatAck.class);
        if (ack.heartbeatIntervalSeconds() > 0) {
            interval = Duration.ofSeconds(ack.heartbeatIntervalSeconds());
        }
        if (state != State.CONNECTED) {
            LOG.infof("connected to the control plane (node state %s%s)", ack.nodeState(), ack.cordoned() ? ", cordoned" : "");
        }
        state = State.CONNECTED;
        lastHeartbeat = Instant.now();
        lastError = null;
        heartbeatsSent++;
    }

    /** The heartbeat body: capacity, ledger usage and every sandbox this node holds. */
    public Heartbeat currentHeartbeat() {
        ResourceLedger.Usage used = sandboxes.ledger().usage();
        List<VmReport> vms = new ArrayList<>();
        for (Sandbox s : sandboxes.list()) {
            SandboxRecord r = s.toRecord();
            boolean holds = r.state() == VmState.STARTING || r.state() == VmState.RUNNING || r.state() == VmState.STOPPING;
            vms.add(new VmReport(r.spec().id(), r.state(), r.bootTimeMillis(), holds ? r.spec().memoryMiB() : 0, r.message()));
        }
        return new Heartbeat(capacity(), new NodeUsage(used.vcpus(), used.memoryMiB(), used.vms()), vms);
    }

    /**
     * Physical capacity (host CPUs, memory minus the reserve): the control plane applies its own overcommit
     * ratios, so sending ours already multiplied would overcommit twice.
     */
    NodeCapacity capacity() {
        var host = sandboxes.host();
        return new NodeCapacity(host.cpus(), Math.max(0, host.memoryMiB() - config.capacity().reservedMemoryMib()),
                config.capacity().maxVms());
    }

    private HttpResponse<byte[]> post(String path, String token, Object body) throws IOException, InterruptedException {
        String base = config.controlPlane().url().get().replaceAll("/+$", "");
        HttpRequest request = HttpRequest.newBuilder(URI.create(base + path)).timeout(Duration.ofSeconds(10))
                .header("Content-Type", "application/json").header("Accept", "application/json")
                .header(ContractVersion.HEADER, ContractVersion.CURRENT).header("Authorization", "Bearer " + token)
                .POST(HttpRequest.BodyPublishers.ofByteArray(json.writeValueAsBytes(body))).build();
        return http.send(request, HttpResponse.BodyHandlers.ofByteArray());
    }

    private static String describe(HttpResponse<byte[]> response) {
        String body = new String(response.body(), StandardCharsets.UTF_8);
        return "HTTP " + response.statusCode() + (body.isBlank() ? "" : " " + (body.length() > 300 ? body.substring(0, 300) + "..." : body));
    }

    public String nodeName() {
        if (config.name().isPresent()) {
            return config.name().get();
        }
        try {
            String host = InetAddress.getLocalHost().getHostName().toLowerCase(Locale.ROOT);
            String label = host.split("\\.")[0].replaceAll("[^a-z0-9-]", "-").replaceAll("^-+|-+$", "");
            return label.isEmpty() ? "node" : label.length() > 63 ? label.substring(0, 63) : label;
        } catch (IOException e) {
            return "node";
        }
    }

    String advertiseUrl() {
        if (config.controlPlane().advertiseUrl().isPresent()) {
            return config.controlPlane().advertiseUrl().get();
        }
        try {
            return "http://" + InetAddress.getLocalHost().getCanonicalHostName() + ":" + httpPort;
        } catch (IOException e) {
            return "http://localhost:" + httpPort;
        }
    }

    public State state() {
        return state;
    }

    public long heartbeatsSent() {
        return heartbeatsSent;
    }

    public NodeInfo.ControlPlane view() {
        return new NodeInfo.ControlPlane(config.controlPlane().url().orElse(null), state.name(), nodeId, lastHeartbeat, lastError);
    }

    private static final class Rejected extends RuntimeException {
        final boolean reRegister;

        Rejected(String message, boolean reRegister) {
            super(message);
            this.reRegister = reRegister;
        }
    }
}
