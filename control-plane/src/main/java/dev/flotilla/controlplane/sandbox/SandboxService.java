package dev.flotilla.controlplane.sandbox;

import dev.flotilla.controlplane.api.ApiException;
import dev.flotilla.controlplane.node.NodeEntity;
import dev.flotilla.controlplane.placement.PlacementEngine;
import jakarta.inject.Inject;
import jakarta.inject.Singleton;
import jakarta.persistence.EntityManager;
import jakarta.persistence.LockModeType;
import jakarta.transaction.Transactional;

import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.UUID;

/** Sandbox state changes outside the placement path: start, stop, delete, eviction from a node. */
@Singleton
public class SandboxService {
    @Inject
    EntityManager entityManager;
    @Inject
    PlacementEngine placement;

    /** Finds a sandbox by id or by name. */
    public SandboxEntity find(String reference) {
        return find(reference, LockModeType.NONE);
    }

    /** Finds and row-locks a sandbox for a change (heartbeats and the reconciler change the same rows). */
    private SandboxEntity findForUpdate(String reference) {
        return find(reference, LockModeType.PESSIMISTIC_WRITE);
    }

    private SandboxEntity find(String reference, LockModeType lock) {
        SandboxEntity sandbox = null;
        try {
            sandbox = SandboxEntity.find("id", UUID.fromString(reference)).withLock(lock).firstResult();
        } catch (IllegalArgumentException notAnId) {
            sandbox = SandboxEntity.find("name", reference).withLock(lock).firstResult();
        }
        if (sandbox == null) {
            throw ApiException.notFound("sandbox '" + reference + "'");
        }
        return sandbox;
    }

    @Transactional
    public SandboxEntity stop(String reference) {
        SandboxEntity sandbox = findForUpdate(reference);
        requireNotDeleted(sandbox);
        if (SandboxStates.STOPPED.equals(sandbox.desiredState)) {
            return sandbox;
        }
        sandbox.desiredState = SandboxStates.STOPPED;
        if (sandbox.nodeId == null) {
            sandbox.observedState = SandboxStates.STOPPED;
            sandbox.message = null;
        } else {
            sandbox.observedState = SandboxStates.STOPPING;
            markUnsynced(sandbox);
        }
        touch(sandbox, "StopRequested", "stop requested");
        return sandbox;
    }

    @Transactional
    public SandboxEntity start(String reference) {
        SandboxEntity sandbox = findForUpdate(reference);
        requireNotDeleted(sandbox);
        boolean wasRunning = SandboxStates.RUNNING.equals(sandbox.desiredState)
                && !SandboxStates.FAILED.equals(sandbox.observedState);
        if (wasRunning) {
            return sandbox;
        }
        sandbox.desiredState = SandboxStates.RUNNING;
        sandbox.generation++;
        if (sandbox.nodeId == null) {
            sandbox.observedState = SandboxStates.PENDING;
        } else {
            sandbox.observedState = SandboxStates.STARTING;
            markUnsynced(sandbox);
        }
        touch(sandbox, "StartRequested", "start requested (generation " + sandbox.generation + ")");
        return sandbox;
    }

    /** Deletes at once when the sandbox is on no node; otherwise marks it for the reconciler to remove from its node. */
    @Transactional
    public SandboxEntity delete(String reference) {
        SandboxEntity sandbox = findForUpdate(reference);
        if (sandbox.nodeId == null) {
            SandboxEventEntity.record(sandbox.id, "Deleted", null, "deleted (it was on no node)");
            sandbox.delete();
            sandbox.desiredState = SandboxStates.DELETED;
            sandbox.observedState = SandboxStates.DELETED;
            return sandbox;
        }
        if (!SandboxStates.DELETED.equals(sandbox.desiredState)) {
            sandbox.desiredState = SandboxStates.DELETED;
            sandbox.observedState = SandboxStates.DELETING;
            markUnsynced(sandbox);
            touch(sandbox, "DeleteRequested", "delete requested; removing it from node " + sandbox.lastNodeName);
        }
        return sandbox;
    }

    /**
     * Takes every sandbox off a node that was lost or drained: sandboxes whose restart policy allows it go back to
     * PENDING for placement elsewhere, NEVER ones fail, stopped ones stay stopped, deleting ones are gone.
     * The VMs still on the node are removed when it reports them again (orphans).
     *
     * @return ids of sandboxes to place again
     */
    @Transactional
    public List<UUID> evict(NodeEntity node, String why) {
        List<UUID> toPlace = new ArrayList<>();
        List<SandboxEntity> sandboxes = SandboxEntity.<SandboxEntity>find("nodeId = ?1 order by id", node.id)
                .withLock(LockModeType.PESSIMISTIC_WRITE).list();
        for (SandboxEntity sandbox : sandboxes) {
            release(node.id, sandbox);
            sandbox.nodeId = null;
            sandbox.agentSynced = false;
            sandbox.syncAttempts = 0;
            sandbox.nextSyncAt = null;
            sandbox.updatedAt = Instant.now();
            if (SandboxStates.DELETED.equals(sandbox.desiredState)) {
                SandboxEventEntity.record(sandbox.id, "Deleted", node.name, "deleted; " + why);
                sandbox.delete();
            } else if (SandboxStates.STOPPED.equals(sandbox.desiredState)) {
                sandbox.observedState = SandboxStates.STOPPED;
                sandbox.message = why;
                SandboxEventEntity.record(sandbox.id, "Unplaced", node.name, why + "; the stopped sandbox is on no node now");
            } else if (RestartPolicy.NEVER.name().equals(sandbox.restartPolicy)) {
                sandbox.observedState = SandboxStates.FAILED;
                sandbox.message = why + "; restart policy NEVER, not rescheduled";
                SandboxEventEntity.record(sandbox.id, "Failed", node.name, sandbox.message);
            } else {
                sandbox.observedState = SandboxStates.PENDING;
                sandbox.restarts++;
                sandbox.generation++;
                sandbox.message = why + "; rescheduling";
                SandboxEventEntity.record(sandbox.id, "Rescheduling", node.name, sandbox.message);
                toPlace.add(sandbox.id);
            }
        }
        return toPlace;
    }

    /** Returns a sandbox's request to its node's allocation (the node row is locked by the update). */
    public void release(UUID nodeId, SandboxEntity sandbox) {
        entityManager.createNativeQuery("""
                        UPDATE node SET alloc_vcpus = alloc_vcpus - :vcpus, alloc_memory_mib = alloc_memory_mib - :memory,
                                        alloc_vms = alloc_vms - 1
                        WHERE id = :id""")
                .setParameter("vcpus", sandbox.vcpus).setParameter("memory", sandbox.memoryMiB).setParameter("id", nodeId)
                .executeUpdate();
    }

    public static void markUnsynced(SandboxEntity sandbox) {
        sandbox.agentSynced = false;
        sandbox.syncAttempts = 0;
        sandbox.nextSyncAt = null;
    }

    private static void touch(SandboxEntity sandbox, String type, String message) {
        sandbox.updatedAt = Instant.now();
        SandboxEventEntity.record(sandbox.id, type, sandbox.nodeId == null ? null : sandbox.lastNodeName, message);
    }

    private static void requireNotDeleted(SandboxEntity sandbox) {
        if (SandboxStates.DELETED.equals(sandbox.desiredState)) {
            throw ApiException.conflict("sandbox '" + sandbox.name + "' is being deleted");
        }
    }
}
