package dev.flotilla.controlplane.node;

import dev.flotilla.contract.v1.Heartbeat;
import dev.flotilla.contract.v1.KvmKind;
import dev.flotilla.contract.v1.NodeCapacity;
import dev.flotilla.contract.v1.NodeRegistration;
import dev.flotilla.contract.v1.Taint;
import dev.flotilla.contract.v1.VmReport;
import dev.flotilla.contract.v1.VmState;
import dev.flotilla.controlplane.api.ApiException;
import dev.flotilla.controlplane.api.FieldError;
import dev.flotilla.controlplane.api.Labels;
import dev.flotilla.controlplane.auth.Tokens;
import dev.flotilla.controlplane.config.FlotillaConfig;
import dev.flotilla.controlplane.metrics.FleetMetrics;
import dev.flotilla.controlplane.sandbox.RestartPolicy;
import dev.flotilla.controlplane.sandbox.SandboxEntity;
import dev.flotilla.controlplane.sandbox.SandboxEventEntity;
import dev.flotilla.controlplane.sandbox.SandboxService;
import dev.flotilla.controlplane.sandbox.SandboxStates;
import jakarta.inject.Inject;
import jakarta.inject.Singleton;
import jakarta.persistence.EntityManager;
import jakarta.persistence.LockModeType;
import jakarta.transaction.Transactional;
import org.jboss.logging.Logger;

import java.net.URI;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.UUID;
import java.util.regex.Pattern;

/** Node registration, heartbeats, cordon/drain and loss detection. */
@Singleton
public class NodeService {
    private static final Logger LOG = Logger.getLogger(NodeService.class);
    private static final Pattern NODE_NAME = Pattern.compile("^[a-z0-9]([-a-z0-9.]{0,61}[a-z0-9])?$");

    @Inject
    FlotillaConfig config;
    @Inject
    SandboxService sandboxes;
    @Inject
    Tokens tokens;
    @Inject
    FleetMetrics metrics;
    @Inject
    EntityManager entityManager;

    /** What a registration did: the node row and the fresh token to hand back. */
    public record Registered(NodeEntity node, String token) {
    }

    /** What a heartbeat found: VMs on the node that belong to no sandbox placed there. */
    public record HeartbeatOutcome(NodeEntity node, boolean changed, List<String> orphans) {
    }

    /** Registers a node, or re-attaches a returning one (same name) without duplicating it. */
    @Transactional
    public Registered register(NodeRegistration registration) {
        validate(registration);
        NodeEntity node = NodeEntity.find("name", registration.name()).withLock(LockModeType.PESSIMISTIC_WRITE).firstResult();
        Instant now = Instant.now();
        boolean returning = node != null;
        if (node == null) {
            node = new NodeEntity();
            node.id = UUID.randomUUID();
            node.name = registration.name();
            node.registeredAt = now;
            node.allocVcpus = 0;
        }
        String token = Tokens.newToken();
        node.tokenHash = Tokens.hash(token);
        node.agentEndpoint = registration.agentEndpoint();
        node.agentToken = registration.agentToken();
        node.kvmKind = (registration.kvmKind() == null ? KvmKind.UNKNOWN : registration.kvmKind()).name();
        node.agentVersion = registration.agentVersion();
        node.labels = registration.labels() == null ? Map.of() : registration.labels();
        node.taints = registration.taints() == null ? List.of() : registration.taints();
        node.capVcpus = registration.capacity().vcpus();
        node.capMemoryMiB = registration.capacity().memoryMiB();
        node.capMaxVms = registration.capacity().maxVms();
        node.state = NodeEntity.READY;
        node.lastHeartbeatAt = now;
        if (!returning) {
            node.persist();
        }
        tokens.forgetNode(node.id);
        LOG.infof("node %s %s (%d vCPUs, %d MiB, %d VMs, kvm %s)", node.name, returning ? "re-registered" : "registered",
                node.capVcpus, node.capMemoryMiB, node.capMaxVms, node.kvmKind);
        return new Registered(node, token);
    }

    /** Records a heartbeat: liveness, usage, VM states (with restart policies applied) and orphan VMs. */
    @Transactional
    public HeartbeatOutcome heartbeat(UUID nodeId, String tokenHash, Heartbeat heartbeat) {
        NodeEntity node = NodeEntity.findById(nodeId);
        if (node == null) {
            throw ApiException.notFound("node " + nodeId);
        }
        if (tokenHash != null && !tokenHash.equals(node.tokenHash)) {
            tokens.forgetToken(tokenHash);
            throw new ApiException(401, "Unauthorized", "this node token was replaced by a newer registration of node "
                    + node.name + "; register again");
        }
        Instant now = Instant.now();
        boolean changed = false;
        if (!NodeEntity.READY.equals(node.state)) {
            LOG.infof("node %s is back after %s of silence", node.name, Duration.between(node.lastHeartbeatAt, now));
            node.state = NodeEntity.READY;
            changed = true;
        }
        NodeCapacity capacity = heartbeat.capacity();
        if (capacity != null && (capacity.vcpus() != node.capVcpus || capacity.memoryMiB() != node.capMemoryMiB
                || capacity.maxVms() != node.capMaxVms)) {
            validateCapacity(capacity, "capacity");
            node.capVcpus = capacity.vcpus();
            node.capMemoryMiB = capacity.memoryMiB();
            node.capMaxVms = capacity.maxVms();
            changed = true;
        }
        node.lastHeartbeatAt = now;
        if (heartbeat.usage() != null) {
            node.usedVcpus = heartbeat.usage().vcpusUsed();
            node.usedMemoryMiB = heartbeat.usage().memoryMiBUsed();
            node.usedVms = heartbeat.usage().vmCount();
        }

        List<VmReport> reports = heartbeat.vms() == null ? List.of() : heartbeat.vms();
        Map<String, VmReport> reported = new HashMap<>();
        for (VmReport report : reports) {
            if (report != null && report.sandboxId() != null) {
                reported.put(report.sandboxId(), report);
            }
        }
        metrics.nodeReported(nodeId, reports);
        Map<String, SandboxEntity> placed = new HashMap<>();
        // Locked: the reconciler records agent answers on the same rows concurrently.
        for (SandboxEntity sandbox : SandboxEntity.<SandboxEntity>find("nodeId = ?1 order by id", nodeId)
                .withLock(LockModeType.PESSIMISTIC_WRITE).list()) {
            placed.put(sandbox.id.toString(), sandbox);
        }
        List<String> orphans = new ArrayList<>();
        for (VmReport report : reported.values()) {
            SandboxEntity sandbox = placed.get(report.sandboxId());
            if (sandbox == null) {
                orphans.add(report.sandboxId());
            } else {
                applyReport(sandbox, report, node, now);
            }
        }
        Instant settled = now.minus(config.nodes().heartbeatInterval().multipliedBy(2));
        for (SandboxEntity sandbox : placed.values()) {
            if (!reported.containsKey(sandbox.id.toString()) && sandbox.agentSynced
                    && SandboxStates.RUNNING.equals(sandbox.desiredState) && sandbox.updatedAt.isBefore(settled)) {
                SandboxService.markUnsynced(sandbox);
                sandbox.observedState = SandboxStates.STARTING;
                sandbox.updatedAt = now;
                SandboxEventEntity.record(sandbox.id, "Missing", node.name,
                        "node " + node.name + " no longer reports the VM; launching it again");
            }
        }
        return new HeartbeatOutcome(node, changed, orphans);
    }

    private void applyReport(SandboxEntity sandbox, VmReport report, NodeEntity node, Instant now) {
        String consoleUrl = consoleUrl(report.consoleUrl());
        if (!java.util.Objects.equals(consoleUrl, sandbox.consoleUrl)) {
            sandbox.consoleUrl = consoleUrl;
        }
        if (report.bootTimeMillis() != null && sandbox.bootTimeMs == null) {
            sandbox.bootTimeMs = report.bootTimeMillis();
            metrics.bootTime(report.bootTimeMillis());
        }
        if (!sandbox.agentSynced || SandboxStates.DELETED.equals(sandbox.desiredState)) {
            return; // a call to the agent is pending; its answer decides the state
        }
        VmState state = report.state() == null ? VmState.UNKNOWN : report.state();
        String observed = switch (state) {
            case STARTING -> SandboxStates.STARTING;
            case RUNNING -> SandboxStates.RUNNING;
            case STOPPING -> SandboxStates.STOPPING;
            case STOPPED -> SandboxStates.STOPPED;
            case FAILED -> SandboxStates.FAILED;
            case UNKNOWN -> sandbox.observedState;
        };
        boolean ended = state == VmState.FAILED || state == VmState.STOPPED;
        if (ended && SandboxStates.RUNNING.equals(sandbox.desiredState)) {
            RestartPolicy policy = RestartPolicy.valueOf(sandbox.restartPolicy);
            boolean restart = policy == RestartPolicy.ALWAYS || (policy == RestartPolicy.ON_FAILURE && state == VmState.FAILED);
            String why = "VM " + state.name().toLowerCase() + (report.message() == null ? "" : ": " + report.message());
            if (restart) {
                sandbox.restarts++;
                sandbox.generation++;
                sandbox.observedState = SandboxStates.STARTING;
                sandbox.message = why;
                SandboxService.markUnsynced(sandbox);
                sandbox.updatedAt = now;
                SandboxEventEntity.record(sandbox.id, "Restarting", node.name, why + "; restart " + sandbox.restarts
                        + " per policy " + policy);
                return;
            }
        }
        if (!observed.equals(sandbox.observedState)) {
            sandbox.observedState = observed;
            sandbox.message = report.message();
            sandbox.updatedAt = now;
            SandboxEventEntity.record(sandbox.id, "State", node.name, "VM is " + observed
                    + (report.message() == null ? "" : ": " + report.message()));
        }
    }

    /** A console URL the dashboard may link to: http(s) or ws(s) with a host, at most 2048 characters; else none. */
    static String consoleUrl(String reported) {
        if (reported == null || reported.length() > 2048) {
            return null;
        }
        try {
            URI uri = URI.create(reported);
            String scheme = uri.getScheme() == null ? "" : uri.getScheme().toLowerCase();
            boolean allowed = scheme.equals("http") || scheme.equals("https") || scheme.equals("ws") || scheme.equals("wss");
            return allowed && uri.getHost() != null ? reported : null;
        } catch (IllegalArgumentException e) {
            return null;
        }
    }

    @Transactional
    public NodeEntity setCordoned(String reference, boolean cordoned) {
        NodeEntity node = find(reference);
        node.cordoned = cordoned;
        return node;
    }

    /** Cordons the node and moves its sandboxes away (per restart policy). */
    @Transactional
    public Drained drain(String reference) {
        NodeEntity node = find(reference);
        node.cordoned = true;
        return new Drained(node.id, sandboxes.evict(node, "node " + node.name + " drained"));
    }

    /** A drained node and the sandboxes to place elsewhere. */
    public record Drained(UUID nodeId, List<UUID> toPlace) {
    }

    /** Ids of READY nodes whose last heartbeat is older than the timeout. */
    public List<UUID> silentNodes() {
        Instant cutoff = Instant.now().minus(config.nodes().heartbeatTimeout());
        return entityManager.createQuery("select n.id from NodeEntity n where n.state = :ready and n.lastHeartbeatAt < :cutoff",
                UUID.class).setParameter("ready", NodeEntity.READY).setParameter("cutoff", cutoff).getResultList();
    }

    /**
     * Marks a silent node UNHEALTHY and evicts its sandboxes, unless a heartbeat arrived meanwhile (checked under the
     * row lock).
     *
     * @return sandboxes to place again, or null when the node was not lost after all
     */
    @Transactional
    public List<UUID> markLost(UUID nodeId) {
        NodeEntity node = entityManager.find(NodeEntity.class, nodeId, LockModeType.PESSIMISTIC_WRITE);
        Instant cutoff = Instant.now().minus(config.nodes().heartbeatTimeout());
        if (node == null || !NodeEntity.READY.equals(node.state) || !node.lastHeartbeatAt.isBefore(cutoff)) {
            return null;
        }
        node.state = NodeEntity.UNHEALTHY;
        LOG.warnf("node %s missed heartbeats for %s: marked UNHEALTHY, moving its sandboxes",
                node.name, Duration.between(node.lastHeartbeatAt, Instant.now()));
        metrics.nodeGone(nodeId);
        return sandboxes.evict(node, "node " + node.name + " lost (no heartbeat since " + node.lastHeartbeatAt + ")");
    }

    public NodeEntity find(String reference) {
        NodeEntity node = null;
        try {
            node = NodeEntity.findById(UUID.fromString(reference));
        } catch (IllegalArgumentException notAnId) {
            node = NodeEntity.find("name", reference).firstResult();
        }
        if (node == null) {
            throw ApiException.notFound("node '" + reference + "'");
        }
        return node;
    }

    private static void validate(NodeRegistration registration) {
        List<FieldError> errors = new ArrayList<>();
        if (registration.name() == null || !NODE_NAME.matcher(registration.name()).matches()) {
            errors.add(new FieldError("name", "must be a DNS name of lower-case letters, digits, '-' and '.'"));
        }
        if (registration.agentEndpoint() != null) {
            try {
                URI uri = URI.create(registration.agentEndpoint());
                if (!("http".equals(uri.getScheme()) || "https".equals(uri.getScheme())) || uri.getHost() == null) {
                    errors.add(new FieldError("agentEndpoint", "must be an http(s) URL with a host"));
                }
            } catch (IllegalArgumentException e) {
                errors.add(new FieldError("agentEndpoint", "is not a URL: " + e.getMessage()));
            }
        }
        if (registration.capacity() == null) {
            errors.add(new FieldError("capacity", "must not be null"));
        } else {
            try {
                validateCapacity(registration.capacity(), "capacity");
            } catch (ApiException e) {
                errors.addAll(e.errors());
            }
        }
        String labels = Labels.invalid(registration.labels());
        if (labels != null) {
            errors.add(new FieldError("labels", labels));
        }
        if (registration.taints() != null) {
            for (int i = 0; i < registration.taints().size(); i++) {
                Taint taint = registration.taints().get(i);
                if (taint == null || taint.key() == null || taint.key().isBlank() || taint.effect() == null) {
                    errors.add(new FieldError("taints[" + i + "]", "needs a key and an effect"));
                }
            }
        }
        if (!errors.isEmpty()) {
            throw new ApiException(400, "Bad Request", "the node registration is invalid: " + String.join("; ",
                    errors.stream().map(error -> error.field() + " " + error.message()).toList()), errors);
        }
    }

    private static void validateCapacity(NodeCapacity capacity, String field) {
        List<FieldError> errors = new ArrayList<>();
        if (capacity.vcpus() < 1) {
            errors.add(new FieldError(field + ".vcpus", "must be at least 1"));
        }
        if (capacity.memoryMiB() < 16) {
            errors.add(new FieldError(field + ".memoryMiB", "must be at least 16"));
        }
        if (capacity.maxVms() < 1) {
            errors.add(new FieldError(field + ".maxVms", "must be at least 1"));
        }
        if (!errors.isEmpty()) {
            throw new ApiException(400, "Bad Request", "the node capacity is invalid", errors);
        }
    }
}
