package dev.flotilla.controlplane.reconcile;

import dev.flotilla.contract.v1.SandboxLaunch;
import dev.flotilla.contract.v1.SandboxStatus;
import dev.flotilla.contract.v1.VmState;
import dev.flotilla.controlplane.config.FlotillaConfig;
import dev.flotilla.controlplane.node.NodeEntity;
import dev.flotilla.controlplane.node.NodeService;
import dev.flotilla.controlplane.placement.PlacementEngine;
import dev.flotilla.controlplane.sandbox.SandboxEntity;
import dev.flotilla.controlplane.sandbox.SandboxEventEntity;
import dev.flotilla.controlplane.sandbox.SandboxResource;
import dev.flotilla.controlplane.sandbox.SandboxService;
import dev.flotilla.controlplane.sandbox.SandboxStates;
import io.quarkus.narayana.jta.QuarkusTransaction;
import io.quarkus.runtime.ShutdownEvent;
import io.quarkus.scheduler.Scheduled;
import jakarta.annotation.PostConstruct;
import jakarta.enterprise.event.Observes;
import jakarta.inject.Inject;
import jakarta.inject.Singleton;
import jakarta.persistence.EntityManager;
import jakarta.persistence.LockModeType;
import org.jboss.logging.Logger;

import java.time.Duration;
import java.time.Instant;
import java.util.List;
import java.util.Set;
import java.util.UUID;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;

/**
 * Drives the fleet toward the desired state, once per {@code flotilla.reconciler.interval}:
 * <ol>
 *   <li>nodes silent for longer than the heartbeat timeout become UNHEALTHY and their sandboxes are moved or
 *       failed per restart policy;</li>
 *   <li>PENDING sandboxes are offered to the placement path again;</li>
 *   <li>every placed sandbox whose desired state the node agent has not acknowledged gets a call (launch, stop or
 *       delete), retried with exponential backoff until it succeeds. Calls are idempotent, so a retry after a lost
 *       answer, a second replica or a restart of the control plane does no harm.</li>
 * </ol>
 * VMs a node reports that belong to no sandbox placed there (it came back after its sandboxes moved) are deleted.
 */
@Singleton
public class Reconciler {
    private static final Logger LOG = Logger.getLogger(Reconciler.class);

    @Inject
    FlotillaConfig config;
    @Inject
    NodeService nodes;
    @Inject
    SandboxService sandboxes;
    @Inject
    PlacementEngine placement;
    @Inject
    AgentClient agents;
    @Inject
    EntityManager entityManager;
    @Inject
    dev.flotilla.controlplane.metrics.FleetMetrics metrics;

    private ExecutorService workers;
    private final Set<UUID> inFlight = ConcurrentHashMap.newKeySet();
    private final Set<String> orphansInFlight = ConcurrentHashMap.newKeySet();
    private volatile Instant lastTick = Instant.now();
    private volatile boolean stopping;

    /** One agent call to make, with what the sandbox looked like when it was decided. */
    private record Work(UUID sandboxId, long generation, String desired, UUID nodeId, String nodeName, String endpoint,
                        String token, SandboxLaunch launch) {
    }

    @PostConstruct
    void init() {
        workers = Executors.newFixedThreadPool(config.reconciler().concurrency(),
                Thread.ofPlatform().name("flotilla-agent-call-", 0).daemon(true).factory());
    }

    /**
     * Stops passes from starting and in-flight agent calls. A pass that kept going during shutdown would hold a
     * worker thread that Quarkus waits for (up to a minute) while the database goes away under it.
     */
    void onStop(@Observes ShutdownEvent event) {
        stopping = true;
        workers.shutdownNow();
    }

    public Instant lastTick() {
        return lastTick;
    }

    @Scheduled(every = "${flotilla.reconciler.interval:1s}", concurrentExecution = Scheduled.ConcurrentExecution.SKIP)
    void tick() {
        if (stopping) {
            return;
        }
        if (!config.reconciler().enabled()) {
            lastTick = Instant.now();
            return;
        }
        try {
            detectLostNodes();
            if (!stopping) {
                requeuePending();
            }
            if (!stopping) {
                dispatchAgentCalls();
            }
        } catch (RuntimeException e) {
            if (!stopping) {
                LOG.errorf(e, "reconciliation pass failed; the next pass retries");
            }
        }
        lastTick = Instant.now();
    }

    void detectLostNodes() {
        for (UUID nodeId : nodes.silentNodes()) {
            List<UUID> toPlace = nodes.markLost(nodeId);
            if (toPlace != null) {
                placement.nodeChanged(nodeId);
                placeAgain(toPlace);
            }
        }
    }

    /** Offers sandboxes to the placement path again (after eviction, or when capacity may have appeared). */
    public void placeAgain(List<UUID> ids) {
        if (ids.isEmpty()) {
            return;
        }
        List<SandboxEntity> pending = QuarkusTransaction.requiringNew().call(() ->
                SandboxEntity.<SandboxEntity>list("id in ?1 and nodeId is null and observedState = ?2", ids, SandboxStates.PENDING));
        for (SandboxEntity sandbox : pending) {
            placement.placeExisting(sandbox.id, SandboxResource.spec(sandbox), sandbox.message);
        }
    }

    void requeuePending() {
        List<SandboxEntity> pending = QuarkusTransaction.requiringNew().call(() -> SandboxEntity
                .<SandboxEntity>find("nodeId is null and observedState = ?1 and desiredState = ?2 order by seq",
                        SandboxStates.PENDING, SandboxStates.RUNNING)
                .page(0, 2000).list());
        for (SandboxEntity sandbox : pending) {
            placement.placeExisting(sandbox.id, SandboxResource.spec(sandbox), sandbox.message);
        }
    }

    void dispatchAgentCalls() {
        List<Work> work = QuarkusTransaction.requiringNew().call(() -> {
            List<Object[]> rows = entityManager.createQuery("""
                            select s, n from SandboxEntity s, NodeEntity n
                            where s.nodeId = n.id and s.agentSynced = false and n.state = :ready
                              and (s.nextSyncAt is null or s.nextSyncAt <= :now)
                            order by s.seq""", Object[].class)
                    .setParameter("ready", NodeEntity.READY).setParameter("now", Instant.now())
                    .setMaxResults(1000).getResultList();
            return rows.stream().map(row -> work((SandboxEntity) row[0], (NodeEntity) row[1])).toList();
        });
        for (Work item : work) {
            if (inFlight.add(item.sandboxId())) {
                workers.execute(() -> {
                    try {
                        call(item);
                    } finally {
                        inFlight.remove(item.sandboxId());
                    }
                });
            }
        }
    }

    private static Work work(SandboxEntity sandbox, NodeEntity node) {
        SandboxLaunch launch = new SandboxLaunch(sandbox.id.toString(), sandbox.name, sandbox.image, sandbox.command,
                sandbox.vcpus, sandbox.memoryMiB, sandbox.labels, sandbox.generation);
        return new Work(sandbox.id, sandbox.generation, sandbox.desiredState, node.id, node.name, node.agentEndpoint,
                node.agentToken, launch);
    }

    private void call(Work work) {
        SandboxStatus status = null;
        String failure = null;
        try {
            switch (work.desired()) {
                case SandboxStates.RUNNING -> status = agents.launch(work.endpoint(), work.token(), work.launch());
                case SandboxStates.STOPPED -> status = agents.stop(work.endpoint(), work.token(), work.sandboxId().toString());
                case SandboxStates.DELETED -> agents.delete(work.endpoint(), work.token(), work.sandboxId().toString());
                default -> failure = "unknown desired state " + work.desired();
            }
        } catch (AgentCallException | RuntimeException e) {
            failure = e.getMessage();
        }
        SandboxStatus answer = status;
        String error = failure;
        try {
            boolean released = QuarkusTransaction.requiringNew().call(() -> apply(work, answer, error));
            if (released) {
                placement.nodeChanged(work.nodeId());
            }
        } catch (RuntimeException e) {
            LOG.warnf(e, "recording the agent's answer for sandbox %s failed; it is retried", work.sandboxId());
        }
    }

    /** @return whether node capacity was released */
    private boolean apply(Work work, SandboxStatus status, String failure) {
        SandboxEntity sandbox = entityManager.find(SandboxEntity.class, work.sandboxId(), LockModeType.PESSIMISTIC_WRITE);
        if (sandbox == null || sandbox.generation != work.generation() || !work.desired().equals(sandbox.desiredState)
                || !work.nodeId().equals(sandbox.nodeId) || sandbox.agentSynced) {
            return false; // changed meanwhile; the next pass decides again
        }
        Instant now = Instant.now();
        if (failure != null) {
            sandbox.syncAttempts++;
            long factor = 1L << Math.min(20, sandbox.syncAttempts - 1);
            Duration delay = config.reconciler().retryBase().multipliedBy(factor);
            if (delay.compareTo(config.reconciler().retryMax()) > 0) {
                delay = config.reconciler().retryMax();
            }
            sandbox.nextSyncAt = now.plus(delay);
            sandbox.message = failure;
            sandbox.updatedAt = now;
            if (sandbox.syncAttempts == 1 || sandbox.syncAttempts % 10 == 0) {
                SandboxEventEntity.record(sandbox.id, "AgentCallFailed", work.nodeName(), "attempt " + sandbox.syncAttempts
                        + ": " + failure + "; retrying in " + delay.toMillis() + " ms");
            }
            return false;
        }
        sandbox.agentSynced = true;
        sandbox.syncAttempts = 0;
        sandbox.nextSyncAt = null;
        sandbox.updatedAt = now;
        switch (work.desired()) {
            case SandboxStates.RUNNING -> {
                VmState state = status == null || status.state() == null ? VmState.UNKNOWN : status.state();
                sandbox.observedState = switch (state) {
                    case RUNNING -> SandboxStates.RUNNING;
                    case FAILED -> SandboxStates.FAILED;
                    case STOPPED -> SandboxStates.STOPPED;
                    default -> SandboxStates.STARTING;
                };
                sandbox.message = status == null ? null : status.message();
                if (status != null && status.bootTimeMillis() != null && sandbox.bootTimeMs == null) {
                    sandbox.bootTimeMs = status.bootTimeMillis();
                    metrics.bootTime(status.bootTimeMillis());
                }
                SandboxEventEntity.record(sandbox.id, "Launched", work.nodeName(), "node agent on " + work.nodeName()
                        + " runs generation " + work.generation() + " (" + state + ")");
            }
            case SandboxStates.STOPPED -> {
                sandbox.observedState = SandboxStates.STOPPED;
                sandbox.message = null;
                SandboxEventEntity.record(sandbox.id, "Stopped", work.nodeName(), "stopped on node " + work.nodeName());
            }
            case SandboxStates.DELETED -> {
                sandboxes.release(work.nodeId(), sandbox);
                SandboxEventEntity.record(sandbox.id, "Deleted", work.nodeName(), "removed from node " + work.nodeName());
                sandbox.delete();
                return true;
            }
            default -> {
            }
        }
        return false;
    }

    /** Deletes a VM a node runs for a sandbox that is not placed there (any more). Idempotent; repeated per heartbeat. */
    public void removeOrphan(NodeEntity node, String sandboxId) {
        String key = node.id + "/" + sandboxId;
        if (!orphansInFlight.add(key)) {
            return;
        }
        String endpoint = node.agentEndpoint;
        String token = node.agentToken;
        String name = node.name;
        workers.execute(() -> {
            try {
                agents.delete(endpoint, token, sandboxId);
                LOG.infof("removed VM of sandbox %s from node %s: it is not placed there", sandboxId, name);
            } catch (AgentCallException | RuntimeException e) {
                LOG.warnf("removing orphan VM %s from node %s failed (retried at its next heartbeat): %s", sandboxId, name,
                        e.getMessage());
            } finally {
                orphansInFlight.remove(key);
            }
        });
    }
}
