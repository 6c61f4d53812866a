package dev.flotilla.controlplane.placement;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.flotilla.controlplane.config.FlotillaConfig;
import dev.flotilla.controlplane.sandbox.SandboxSpec;
import dev.flotilla.controlplane.sandbox.TolerationSpec;
import dev.flotilla.controlplane.scheduler.FilterPlugin;
import dev.flotilla.controlplane.scheduler.FleetSnapshot;
import dev.flotilla.controlplane.scheduler.NodeInfo;
import dev.flotilla.controlplane.scheduler.Plugins;
import dev.flotilla.controlplane.scheduler.Resources;
import dev.flotilla.controlplane.scheduler.SandboxRequest;
import dev.flotilla.controlplane.scheduler.Scheduler;
import dev.flotilla.controlplane.scheduler.SchedulingPolicy;
import dev.flotilla.controlplane.scheduler.SchedulingResult;
import io.agroal.api.AgroalDataSource;
import io.micrometer.core.instrument.DistributionSummary;
import io.micrometer.core.instrument.MeterRegistry;
import io.micrometer.core.instrument.Timer;
import io.quarkus.runtime.ShutdownEvent;
import io.quarkus.runtime.StartupEvent;
import jakarta.annotation.Priority;
import jakarta.enterprise.event.Observes;
import jakarta.inject.Inject;
import jakarta.inject.Singleton;
import org.jboss.logging.Logger;

import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Timestamp;
import java.time.Instant;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.Set;
import java.util.UUID;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.TimeUnit;

/**
 * The placement path: one thread takes queued sandboxes in batches, runs the pure {@link Scheduler} over its
 * {@link FleetCache}, and commits the batch in one transaction:
 * <ol>
 *   <li>lock the stored sandboxes still waiting ({@code FOR UPDATE SKIP LOCKED}, so two replicas never place the
 *       same sandbox);</li>
 *   <li>lock the chosen nodes ({@code SELECT ... ORDER BY id FOR UPDATE}; the order avoids deadlocks between
 *       replicas) and re-check capacity, health and cordon against the locked rows;</li>
 *   <li>in one statement with array parameters: insert the new sandboxes ({@code ON CONFLICT (name) DO NOTHING}),
 *       place the stored ones, add to the nodes' allocations and write the events.</li>
 * </ol>
 * That is three round trips per batch of new sandboxes (lock, write, commit) however large it is, four when it
 * also re-places stored ones: on a busy host every round trip waits for two processes to be scheduled. A choice
 * that no longer fits the locked row (another replica placed there first) is retried in the next batch with the
 * refreshed node, so capacity is never exceeded whatever the number of API clients or replicas.
 */
@Singleton
public class PlacementEngine {
    private static final Logger LOG = Logger.getLogger(PlacementEngine.class);
    private static final int MAX_ATTEMPTS = 8;

    /** See {@link #write}; parameters are numbered because the timestamp is used in several places. */
    private static final NumberedSql WRITE_BATCH = NumberedSql.of("""
        WITH inserted AS (
            INSERT INTO sandbox (id, name, image, command, vcpus, memory_mib, labels, node_selector, tolerations,
                                 anti_affinity, restart_policy, desired_state, observed_state, node_id,
                                 last_node_name, message, created_at, updated_at, placed_at)
            SELECT t.id, t.name, t.image, t.command::jsonb, t.vcpus, t.memory, t.labels::jsonb, t.selector::jsonb,
                   t.tolerations::jsonb, t.anti::jsonb, t.policy, 'RUNNING', t.state, t.node, t.node_name,
                   t.message, ?1::timestamptz, ?1::timestamptz,
                   CASE WHEN t.node IS NULL THEN NULL ELSE ?1::timestamptz END
            FROM unnest(?2::uuid[], ?3::text[], ?4::text[], ?5::text[], ?6::int4[], ?7::int8[], ?8::text[],
                        ?9::text[], ?10::text[], ?11::text[], ?12::text[], ?13::uuid[], ?14::text[], ?15::text[],
                        ?16::text[])
                 AS t(id, name, image, command, vcpus, memory, labels, selector, tolerations, anti, policy, node,
                      node_name, state, message)
            ON CONFLICT (name) DO NOTHING
            RETURNING id, node_id, vcpus, memory_mib
        ), placed AS (
            UPDATE sandbox s SET node_id = d.node, last_node_name = d.node_name, observed_state = 'SCHEDULED',
                   message = NULL, placed_at = ?1::timestamptz, updated_at = ?1::timestamptz, agent_synced = false, sync_attempts = 0,
                   next_sync_at = NULL, version = s.version + 1
            FROM unnest(?17::uuid[], ?18::uuid[], ?19::text[]) AS d(id, node, node_name)
            WHERE s.id = d.id
            RETURNING s.node_id, s.vcpus, s.memory_mib
        ), unschedulable AS (
            UPDATE sandbox s SET message = d.reason, updated_at = ?1::timestamptz
            FROM unnest(?20::uuid[], ?21::text[]) AS d(id, reason) WHERE s.id = d.id
        ), allocated AS (
            UPDATE node n SET alloc_vcpus = n.alloc_vcpus + d.vcpus, alloc_memory_mib = n.alloc_memory_mib + d.memory,
                              alloc_vms = n.alloc_vms + d.vms
            FROM (SELECT node_id, sum(vcpus) AS vcpus, sum(memory_mib) AS memory, count(*) AS vms
                  FROM (SELECT node_id, vcpus, memory_mib FROM inserted
                        UNION ALL SELECT node_id, vcpus, memory_mib FROM placed) p
                  WHERE node_id IS NOT NULL GROUP BY node_id) d
            WHERE n.id = d.node_id
            RETURNING n.id, n.alloc_vcpus, n.alloc_memory_mib, n.alloc_vms
        ), events AS (
            INSERT INTO sandbox_event (sandbox_id, at, type, node_name, message)
            SELECT e.id, ?1::timestamptz, e.type, e.node_name, e.message
            FROM unnest(?22::uuid[], ?23::text[], ?24::text[], ?25::text[], ?26::bool[])
                 AS e(id, type, node_name, message, of_new)
            WHERE NOT e.of_new OR e.id IN (SELECT id FROM inserted)
        )
        SELECT 'sandbox', id, 0, 0, 0 FROM inserted
        UNION ALL SELECT 'node', id, alloc_vcpus, alloc_memory_mib, alloc_vms FROM allocated""");

    @Inject
    AgroalDataSource dataSource;
    @Inject
    ObjectMapper json;
    @Inject
    FlotillaConfig config;
    @Inject
    MeterRegistry registry;

    private final LinkedBlockingQueue<Object> queue = new LinkedBlockingQueue<>();
    /**
     * Stored sandboxes queued or being placed, with their answer: a sandbox is never in the queue twice (two jobs
     * for one sandbox in one batch would both be counted against the nodes they were given).
     */
    private final Map<UUID, CompletableFuture<PlacementOutcome>> queuedStored = new ConcurrentHashMap<>();
    /** What a create request is told when its sandbox was placed by someone else while this replica retried it. */
    private static final PlacementOutcome.Pending TAKEN_OVER = new PlacementOutcome.Pending(
            "placement was taken over by another control-plane replica or the reconciler; read the sandbox for its node");
    private volatile boolean running;
    private volatile boolean ready;
    private Thread thread;
    private FleetCache cache;
    private SchedulingPolicy policy;
    private int cursor;
    private long lastFullReload;
    /** A full reload is due before the next batch: at start and after a failure (placement thread only). */
    private boolean reloadNeeded = true;
    private Timer latency;
    private Timer scheduling;
    private Timer transactions;
    private DistributionSummary batchSizes;

    void onStart(@Observes @Priority(10) StartupEvent event) {
        policy = SchedulingPolicy.of(config.scheduler().filters(), FlotillaConfig.parseWeights(config.scheduler().scores()),
                config.scheduler().vcpuOvercommit(), config.scheduler().memoryOvercommit(),
                config.scheduler().maxNodesToScore());
        cache = new FleetCache(json);
        latency = Timer.builder("flotilla.placement.latency").description("Queue entry to committed placement decision")
                .publishPercentiles(0.5, 0.9, 0.99).register(registry);
        batchSizes = DistributionSummary.builder("flotilla.placement.batch.size").register(registry);
        scheduling = Timer.builder("flotilla.placement.batch.scheduling").description("Scheduler run per batch").register(registry);
        transactions = Timer.builder("flotilla.placement.batch.transaction").description("Database transaction per batch")
                .register(registry);
        running = true;
        thread = Thread.ofPlatform().name("flotilla-placement").daemon(true).start(this::loop);
    }

    void onStop(@Observes ShutdownEvent event) throws InterruptedException {
        running = false;
        if (thread != null) {
            thread.interrupt();
            thread.join(5000);
        }
    }

    public SchedulingPolicy policy() {
        return policy;
    }

    /** True once the node cache has been loaded. */
    public boolean ready() {
        return ready;
    }

    /** Queues a new sandbox: it is inserted and placed in one transaction. */
    public CompletableFuture<PlacementOutcome> placeNew(UUID id, SandboxSpec spec) {
        CompletableFuture<PlacementOutcome> result = new CompletableFuture<>();
        queue.add(new PlacementJob(request(id, spec), spec, null, result, 0, System.nanoTime(), true));
        return result;
    }

    /** Queues a stored PENDING sandbox unless it is already queued. */
    public CompletableFuture<PlacementOutcome> placeExisting(UUID id, SandboxSpec spec, String previousMessage) {
        CompletableFuture<PlacementOutcome> result = new CompletableFuture<>();
        if (queuedStored.putIfAbsent(id, result) != null) {
            result.complete(new PlacementOutcome.Skipped());
            return result;
        }
        result.whenComplete((outcome, failure) -> queuedStored.remove(id, result));
        queue.add(new PlacementJob(request(id, spec), null, previousMessage, result, 0, System.nanoTime(), false));
        return result;
    }

    /** A node row changed (registration, state, cordon, capacity, released allocation): refresh it before placing. */
    public void nodeChanged(UUID nodeId) {
        queue.add(nodeId);
    }

    /** Counters for the benchmark report: batches, mean batch size, mean scheduling and transaction milliseconds. */
    public String statistics() {
        return String.format("%d batches, mean size %.1f, scheduling %.2f ms, transaction %.2f ms per batch",
                batchSizes.count(), batchSizes.mean(), scheduling.mean(TimeUnit.MILLISECONDS),
                transactions.mean(TimeUnit.MILLISECONDS));
    }

    public int queued() {
        return queue.size();
    }

    static SandboxRequest request(UUID id, SandboxSpec spec) {
        return new SandboxRequest(id, spec.name(), new Resources(spec.vcpus(), spec.memoryMiB(), 1), spec.labels(),
                spec.nodeSelector(), spec.tolerations().stream().map(TolerationSpec::toToleration).toList(),
                spec.antiAffinity());
    }

    /**
     * A batch scheduled against the cache. Its choices are already added to the cached nodes (optimistically, so the
     * next batch can be scheduled while this one commits); {@code added} is what it added per node.
     */
    private record Plan(List<PlacementJob> jobs, SchedulingResult result, Map<UUID, Resources> added) {
    }

    /** What a committed (or failed) batch transaction did, applied to the cache on the placement thread. */
    private record Committed(List<PlacementJob> jobs, Map<UUID, PlacementOutcome> outcomes, List<PlacementJob> retries,
                             Map<UUID, NodeInfo> lockedNodes, Map<UUID, Resources> newAllocations,
                             Map<UUID, List<Map<String, String>>> addedLabels, SQLException failure) {
    }

    /**
     * Scheduling of the next batch overlaps the database transaction of the previous one (a pipeline of depth
     * one): every plan adds its choices to the cached nodes at once, so the next batch is scheduled against the
     * cache as the in-flight batch leaves it; when that transaction finishes, the authoritative locked rows replace
     * its nodes (plus what a batch scheduled meanwhile added to them).
     */
    private void loop() {
        List<PlacementJob> batch = new ArrayList<>();
        Set<UUID> changedNodes = new HashSet<>();
        ExecutorService committer = Executors.newSingleThreadExecutor(
                Thread.ofPlatform().name("flotilla-placement-commit").daemon(true).factory());
        // Periodic full reloads read the whole fleet (every node, every placed sandbox's labels): on a big fleet
        // that takes long enough to stall placement, so it runs here and the placement thread only installs it.
        ExecutorService reloader = Executors.newSingleThreadExecutor(
                Thread.ofPlatform().name("flotilla-placement-reload").daemon(true).factory());
        Future<Committed> inFlight = null;
        Plan inFlightPlan = null;
        Future<List<NodeInfo>> reloading = null;
        try {
            while (running) {
                Plan plan = null;
                try {
                    Object first = inFlight == null && !reloadNeeded ? queue.poll(200, TimeUnit.MILLISECONDS) : queue.poll();
                    if (first != null) {
                        collect(first, batch, changedNodes);
                        Object next;
                        while (batch.size() < config.scheduler().maxBatch() && (next = queue.poll()) != null) {
                            collect(next, batch, changedNodes);
                        }
                    }
                    // A forced reload (start, after an error) runs here, before anything is scheduled.
                    boolean forcedReload = reloadNeeded;
                    if (!forcedReload && reloading == null
                            && System.nanoTime() - lastFullReload > config.scheduler().fleetRefreshInterval().toNanos()) {
                        cache.beginReload();
                        lastFullReload = System.nanoTime();
                        reloading = reloader.submit(this::readFleet);
                    }
                    if (inFlight != null) {
                        // Overlap: schedule the next batch while the previous one commits, unless the cache is
                        // about to be refreshed anyway.
                        if (!batch.isEmpty() && !forcedReload && changedNodes.isEmpty()) {
                            plan = schedule(List.copyOf(batch));
                            batch.clear();
                        }
                        Committed done = inFlight.get();
                        inFlight = null;
                        inFlightPlan = null;
                        finish(done, plan);
                    }
                    if (reloading != null && (reloading.isDone() || forcedReload)) {
                        Future<List<NodeInfo>> finished = reloading;
                        reloading = null;
                        installReload(finished);
                    }
                    if (forcedReload || !changedNodes.isEmpty()) {
                        refresh(forcedReload, changedNodes);
                        changedNodes.clear();
                    }
                    if (plan == null && !batch.isEmpty()) {
                        plan = schedule(List.copyOf(batch));
                        batch.clear();
                    }
                    if (plan != null) {
                        Plan submitted = plan;
                        inFlight = committer.submit(() -> commit(submitted));
                        inFlightPlan = submitted;
                    }
                } catch (InterruptedException e) {
                    Thread.currentThread().interrupt();
                    break;
                } catch (RuntimeException | SQLException | ExecutionException e) {
                    LOG.errorf(e, "placement failed; the affected sandboxes stay PENDING and are retried");
                    for (PlacementJob job : batch) {
                        job.result().completeExceptionally(e);
                    }
                    if (plan != null && plan != inFlightPlan) {
                        plan.jobs().forEach(job -> job.result().completeExceptionally(e));
                    }
                    if (inFlight != null) {
                        // Settle the in-flight transaction before starting over: its callers must get an answer
                        // (its outcome, or the error when the transaction itself failed unexpectedly).
                        try {
                            finish(inFlight.get(), null);
                        } catch (Exception settling) {
                            if (settling instanceof InterruptedException) {
                                Thread.currentThread().interrupt();
                            }
                            inFlightPlan.jobs().forEach(job -> job.result().completeExceptionally(settling));
                        }
                    }
                    batch.clear();
                    inFlight = null;
                    inFlightPlan = null;
                    reloadNeeded = true;
                    sleepQuietly();
                }
            }
        } finally {
            committer.shutdownNow();
            reloader.shutdownNow();
        }
        PlacementOutcome stopped = new PlacementOutcome.Pending("the control plane is shutting down");
        for (Object item : queue) {
            if (item instanceof PlacementJob job) {
                job.result().complete(stopped);
            }
        }
    }

    /** Runs on the reload thread with its own connection. */
    private List<NodeInfo> readFleet() throws SQLException {
        try (Connection connection = dataSource.getConnection()) {
            return FleetCache.read(connection, json);
        }
    }

    /** Installs a finished background reload; a failed one is logged and retried at the next interval. */
    private void installReload(Future<List<NodeInfo>> reload) throws InterruptedException {
        try {
            cache.install(reload.get());
        } catch (ExecutionException e) {
            cache.abandonReload();
            LOG.warnf(e.getCause(), "reloading the node cache failed; keeping the cached nodes until the next reload");
        }
    }

    /** Sorts a queued item into the batch or the changed nodes. */
    private static void collect(Object item, List<PlacementJob> batch, Set<UUID> changedNodes) {
        switch (item) {
            case PlacementJob job -> batch.add(job);
            case UUID nodeId -> changedNodes.add(nodeId);
            default -> throw new IllegalStateException("unexpected item in the placement queue: " + item);
        }
    }

    private void refresh(boolean full, Set<UUID> changedNodes) throws SQLException {
        try (Connection connection = dataSource.getConnection()) {
            if (full) {
                cache.reloadAll(connection);
                lastFullReload = System.nanoTime();
                reloadNeeded = false;
                ready = true;
            } else {
                for (UUID nodeId : changedNodes) {
                    cache.reloadNode(connection, nodeId);
                }
            }
        }
    }

    private Plan schedule(List<PlacementJob> jobs) {
        batchSizes.record(jobs.size());
        List<SandboxRequest> requests = new ArrayList<>(jobs.size());
        for (PlacementJob job : jobs) {
            requests.add(job.request());
        }
        long start = System.nanoTime();
        SchedulingResult result = Scheduler.schedule(new FleetSnapshot(cache.table(), cursor), requests, policy);
        cursor = result.nextCursor();
        // Add the choices to the cached nodes now, for scheduling the next batch while this one commits; finish()
        // replaces them with the locked rows. Only the nodes this batch chose are touched.
        Map<UUID, Resources> added = new HashMap<>();
        for (int i = 0; i < requests.size(); i++) {
            if (result.decisions().get(i) instanceof SchedulingResult.Placement placement) {
                Resources wanted = requests.get(i).resources();
                added.merge(placement.node().id(), wanted, Resources::plus);
                NodeInfo node = cache.get(placement.node().id());
                if (node != null) {
                    cache.replace(node.withAllocated(node.allocated().plus(wanted)));
                }
            }
        }
        scheduling.record(System.nanoTime() - start, TimeUnit.NANOSECONDS);
        return new Plan(jobs, result, added);
    }

    /** Runs a plan's transaction. Touches no cache: it runs on the commit thread. */
    private Committed commit(Plan plan) {
        List<PlacementJob> jobs = plan.jobs();
        SchedulingResult result = plan.result();
        long transactionStart = System.nanoTime();
        Map<UUID, PlacementOutcome> outcomes = new HashMap<>();
        List<PlacementJob> retries = new ArrayList<>();
        Map<UUID, Resources> newAllocations = new HashMap<>();
        Map<UUID, List<Map<String, String>>> addedLabels = new HashMap<>();
        Map<UUID, NodeInfo> lockedNodes = new HashMap<>();
        Instant now = Instant.now();
        boolean committed = false;

        try (Connection connection = dataSource.getConnection()) {
            connection.setAutoCommit(false);
            try {
                List<PlacementJob> storedJobs = jobs.stream().filter(job -> !job.isNew()).toList();
                Set<UUID> storedAlive = lockStored(connection, storedJobs);

                // The scheduler's choices grouped by node, in batch order; reasons for the rest.
                Map<UUID, List<PlacementJob>> byNode = new LinkedHashMap<>();
                Map<UUID, String> unschedulable = new LinkedHashMap<>();
                for (int i = 0; i < jobs.size(); i++) {
                    PlacementJob job = jobs.get(i);
                    if (!job.isNew() && !storedAlive.contains(job.request().id())) {
                        outcomes.put(job.request().id(), job.answersCreate() ? TAKEN_OVER : new PlacementOutcome.Skipped());
                        continue;
                    }
                    switch (result.decisions().get(i)) {
                        case SchedulingResult.Placement placement ->
                                byNode.computeIfAbsent(placement.node().id(), id -> new ArrayList<>()).add(job);
                        case SchedulingResult.Unschedulable none -> unschedulable.put(job.request().id(), none.reason());
                    }
                }

                // Lock the chosen nodes and keep only the choices that still fit the rows as they are now.
                Map<UUID, NodeInfo> acceptedNodes = new HashMap<>();
                lockedNodes.putAll(lockNodes(connection, byNode.keySet()));
                for (Map.Entry<UUID, List<PlacementJob>> entry : byNode.entrySet()) {
                    NodeInfo locked = lockedNodes.get(entry.getKey());
                    Resources allocated = locked == null ? null : locked.allocated();
                    for (PlacementJob job : entry.getValue()) {
                        if (locked != null && fits(job, locked, allocated)) {
                            allocated = allocated.plus(job.request().resources());
                            acceptedNodes.put(job.request().id(), locked);
                        } else {
                            retries.add(job);
                        }
                    }
                }

                // Everything else in one statement: insert the new sandboxes (already placed, or PENDING; a taken
                // name inserts nothing), place the stored ones, add to the node allocations, write the events.
                Map<UUID, String> changedReasons = new LinkedHashMap<>();
                for (PlacementJob job : storedJobs) {
                    String reason = unschedulable.get(job.request().id());
                    if (reason != null && !reason.equals(job.previousMessage())) {
                        changedReasons.put(job.request().id(), reason);
                    }
                }
                Written written = write(connection, jobs, storedAlive, acceptedNodes, unschedulable, changedReasons, now);
                List<PlacementJob> accepted = new ArrayList<>();
                for (PlacementJob job : jobs) {
                    UUID id = job.request().id();
                    if (job.isNew() && !written.inserted().contains(id)) {
                        outcomes.put(id, new PlacementOutcome.NameTaken(job.request().name()));
                        acceptedNodes.remove(id);
                        unschedulable.remove(id);
                    } else if (acceptedNodes.containsKey(id)) {
                        accepted.add(job);
                    }
                }
                retries.removeIf(job -> outcomes.containsKey(job.request().id()));
                newAllocations.putAll(written.allocations());
                for (PlacementJob job : accepted) {
                    if (!job.request().labels().isEmpty()) {
                        addedLabels.computeIfAbsent(acceptedNodes.get(job.request().id()).id(), id -> new ArrayList<>())
                                .add(job.request().labels());
                    }
                }
                connection.commit();
                committed = true;
                transactions.record(System.nanoTime() - transactionStart, TimeUnit.NANOSECONDS);

                for (PlacementJob job : accepted) {
                    NodeInfo node = acceptedNodes.get(job.request().id());
                    outcomes.put(job.request().id(), new PlacementOutcome.Placed(node.id(), node.name(), now));
                }
                unschedulable.forEach((id, reason) -> outcomes.put(id, new PlacementOutcome.Pending(reason)));
            } finally {
                if (!committed) {
                    connection.rollback();
                }
            }
        } catch (SQLException e) {
            return new Committed(jobs, Map.of(), List.of(), Map.of(), Map.of(), Map.of(), e);
        }
        return new Committed(jobs, outcomes, retries, lockedNodes, newAllocations, addedLabels, null);
    }

    /**
     * Applies a finished transaction to the cache and answers the callers (placement thread). {@code next} is the
     * batch scheduled while this one committed (not yet submitted), or null: its choices stay added to the nodes.
     */
    private void finish(Committed committed, Plan next) throws SQLException {
        if (committed.failure() != null) {
            SQLException e = committed.failure();
            reloadNeeded = true;
            if (isTransient(e)) {
                LOG.debugf("placement batch hit %s, retrying", e.getSQLState());
                for (PlacementJob job : committed.jobs()) {
                    requeue(job.retried(), "database contention");
                }
                return;
            }
            for (PlacementJob job : committed.jobs()) {
                job.result().completeExceptionally(e);
            }
            throw e;
        }
        List<PlacementJob> jobs = committed.jobs();
        Map<UUID, PlacementOutcome> outcomes = committed.outcomes();
        List<PlacementJob> retries = committed.retries();
        Map<UUID, NodeInfo> lockedNodes = committed.lockedNodes();
        Map<UUID, Resources> newAllocations = committed.newAllocations();
        Map<UUID, List<Map<String, String>>> addedLabels = committed.addedLabels();

        // The transaction is committed: bring the cache in line with the locked rows and answer the callers.
        Map<UUID, Resources> addedByNext = next == null ? Map.of() : next.added();
        for (NodeInfo locked : lockedNodes.values()) {
            NodeInfo cached = cache.get(locked.id());
            List<Map<String, String>> labels = cached == null ? List.of() : cached.sandboxLabels();
            List<Map<String, String>> added = addedLabels.get(locked.id());
            if (added != null) {
                labels = new ArrayList<>(labels);
                labels.addAll(added);
            }
            Resources allocated = newAllocations.getOrDefault(locked.id(), locked.allocated());
            Resources addedLater = addedByNext.get(locked.id());
            cache.replace(new NodeInfo(locked.id(), locked.name(), locked.capacity(),
                    addedLater == null ? allocated : allocated.plus(addedLater),
                    cached == null ? locked.labels() : cached.labels(), cached == null ? locked.taints() : cached.taints(),
                    locked.healthy(), locked.cordoned(), labels));
        }
        long end = System.nanoTime();
        for (PlacementJob job : jobs) {
            PlacementOutcome outcome = outcomes.get(job.request().id());
            if (outcome != null) {
                latency.record(end - job.enqueuedNanos(), TimeUnit.NANOSECONDS);
                job.result().complete(outcome);
            }
        }
        for (PlacementJob job : retries) {
            if (!job.isNew()) {
                requeue(job.retried(), "node capacity taken concurrently");
                continue;
            }
            // A new sandbox is stored (PENDING) by now: retry it as a stored one, unless the reconciler has already
            // queued it (it saw the PENDING row), in which case that placement answers the create request too.
            UUID id = job.request().id();
            CompletableFuture<PlacementOutcome> queued = queuedStored.putIfAbsent(id, job.result());
            if (queued != null) {
                queued.whenComplete((outcome, failure) -> {
                    if (failure != null) {
                        job.result().completeExceptionally(failure);
                    } else {
                        job.result().complete(outcome instanceof PlacementOutcome.Skipped ? TAKEN_OVER : outcome);
                    }
                });
                continue;
            }
            job.result().whenComplete((outcome, failure) -> queuedStored.remove(id, job.result()));
            requeue(new PlacementJob(job.request(), null, null, job.result(), job.attempts() + 1, job.enqueuedNanos(),
                    true), "node capacity taken concurrently");
        }
    }

    private void requeue(PlacementJob job, String why) {
        if (job.attempts() >= MAX_ATTEMPTS) {
            job.result().complete(new PlacementOutcome.Pending("not placed after " + job.attempts() + " attempts (" + why
                    + "); the reconciler keeps trying"));
            return;
        }
        queue.add(job);
    }

    private boolean fits(PlacementJob job, NodeInfo locked, Resources allocated) {
        for (FilterPlugin filter : List.of(Plugins.CAPACITY, Plugins.HEALTH, Plugins.CORDON)) {
            if (filter.reject(job.request(), locked, allocated, policy) != null) {
                return false;
            }
        }
        return true;
    }

    /** What the batch's write statement did: the new sandboxes actually inserted and the nodes' new allocations. */
    private record Written(Set<UUID> inserted, Map<UUID, Resources> allocations) {
    }

    /**
     * The batch's writes in one statement (one round trip; data-modifying CTEs all run, against the same snapshot,
     * and no row is changed twice): insert the new sandboxes, place the stored ones, record changed unschedulable
     * reasons, add what was placed to the (locked) node rows, and write the events. A new sandbox whose name is
     * taken inserts nothing, so it adds no allocation and gets no events.
     */
    private Written write(Connection connection, List<PlacementJob> jobs, Set<UUID> storedAlive,
                          Map<UUID, NodeInfo> placedOn, Map<UUID, String> reasons, Map<UUID, String> changedStoredReasons,
                          Instant now) throws SQLException {
        List<PlacementJob> fresh = new ArrayList<>();
        List<PlacementJob> storedPlaced = new ArrayList<>();
        for (PlacementJob job : jobs) {
            if (job.isNew()) {
                fresh.add(job);
            } else if (storedAlive.contains(job.request().id()) && placedOn.containsKey(job.request().id())) {
                storedPlaced.add(job);
            }
        }
        int n = fresh.size();
        UUID[] ids = new UUID[n], nodeIds = new UUID[n];
        String[] names = new String[n], images = new String[n], commands = new String[n], labels = new String[n],
                selectors = new String[n], tolerations = new String[n], antiAffinity = new String[n], policies = new String[n],
                nodeNames = new String[n], states = new String[n], messages = new String[n];
        Integer[] vcpus = new Integer[n];
        Long[] memory = new Long[n];
        for (int i = 0; i < n; i++) {
            SandboxSpec spec = fresh.get(i).newSpec();
            UUID id = fresh.get(i).request().id();
            NodeInfo node = placedOn.get(id);
            ids[i] = id;
            names[i] = spec.name();
            images[i] = spec.image();
            commands[i] = json(spec.command());
            vcpus[i] = spec.vcpus();
            memory[i] = spec.memoryMiB();
            labels[i] = json(spec.labels());
            selectors[i] = json(spec.nodeSelector());
            tolerations[i] = json(spec.tolerations());
            antiAffinity[i] = json(spec.antiAffinity());
            policies[i] = spec.restartPolicy().name();
            nodeIds[i] = node == null ? null : node.id();
            nodeNames[i] = node == null ? null : node.name();
            states[i] = node == null ? "PENDING" : "SCHEDULED";
            messages[i] = reasons.get(id);
        }
        UUID[] storedIds = new UUID[storedPlaced.size()], storedNodes = new UUID[storedPlaced.size()];
        String[] storedNodeNames = new String[storedPlaced.size()];
        for (int i = 0; i < storedPlaced.size(); i++) {
            NodeInfo node = placedOn.get(storedPlaced.get(i).request().id());
            storedIds[i] = storedPlaced.get(i).request().id();
            storedNodes[i] = node.id();
            storedNodeNames[i] = node.name();
        }
        Events events = events(jobs, storedAlive, placedOn, reasons, changedStoredReasons);

        Set<UUID> inserted = new HashSet<>();
        Map<UUID, Resources> allocations = new HashMap<>();
        Object[] values = new Object[27];
        values[1] = Timestamp.from(now);
        values[2] = connection.createArrayOf("uuid", ids);
        values[3] = connection.createArrayOf("text", names);
        values[4] = connection.createArrayOf("text", images);
        values[5] = connection.createArrayOf("text", commands);
        values[6] = connection.createArrayOf("int4", vcpus);
        values[7] = connection.createArrayOf("int8", memory);
        values[8] = connection.createArrayOf("text", labels);
        values[9] = connection.createArrayOf("text", selectors);
        values[10] = connection.createArrayOf("text", tolerations);
        values[11] = connection.createArrayOf("text", antiAffinity);
        values[12] = connection.createArrayOf("text", policies);
        values[13] = connection.createArrayOf("uuid", nodeIds);
        values[14] = connection.createArrayOf("text", nodeNames);
        values[15] = connection.createArrayOf("text", states);
        values[16] = connection.createArrayOf("text", messages);
        values[17] = connection.createArrayOf("uuid", storedIds);
        values[18] = connection.createArrayOf("uuid", storedNodes);
        values[19] = connection.createArrayOf("text", storedNodeNames);
        values[20] = connection.createArrayOf("uuid", changedStoredReasons.keySet().toArray(UUID[]::new));
        values[21] = connection.createArrayOf("text", changedStoredReasons.values().toArray(String[]::new));
        values[22] = connection.createArrayOf("uuid", events.ids().toArray(UUID[]::new));
        values[23] = connection.createArrayOf("text", events.types().toArray(String[]::new));
        values[24] = connection.createArrayOf("text", events.nodeNames().toArray(String[]::new));
        values[25] = connection.createArrayOf("text", events.messages().toArray(String[]::new));
        values[26] = connection.createArrayOf("bool", events.ofNew().toArray(Boolean[]::new));
        try (PreparedStatement statement = connection.prepareStatement(WRITE_BATCH.sql())) {
            WRITE_BATCH.bind(statement, values);
            try (ResultSet rows = statement.executeQuery()) {
                while (rows.next()) {
                    UUID id = rows.getObject(2, UUID.class);
                    if ("sandbox".equals(rows.getString(1))) {
                        inserted.add(id);
                    } else {
                        allocations.put(id, new Resources(rows.getInt(3), rows.getLong(4), rows.getInt(5)));
                    }
                }
            }
        }
        return new Written(inserted, allocations);
    }

    /** The batch's events as parallel arrays; {@code ofNew} marks those of new sandboxes, written only if inserted. */
    private record Events(List<UUID> ids, List<String> types, List<String> nodeNames, List<String> messages,
                          List<Boolean> ofNew) {
        Events() {
            this(new ArrayList<>(), new ArrayList<>(), new ArrayList<>(), new ArrayList<>(), new ArrayList<>());
        }

        void add(UUID id, String type, String nodeName, String message, boolean isNew) {
            ids.add(id);
            types.add(type);
            nodeNames.add(nodeName);
            messages.add(message);
            ofNew.add(isNew);
        }
    }

    private static Events events(List<PlacementJob> jobs, Set<UUID> storedAlive, Map<UUID, NodeInfo> placedOn,
                                 Map<UUID, String> reasons, Map<UUID, String> changedStoredReasons) {
        Events events = new Events();
        for (PlacementJob job : jobs) {
            UUID id = job.request().id();
            NodeInfo node = placedOn.get(id);
            if (job.isNew()) {
                events.add(id, "Created", null, "sandbox created: " + job.request().resources().vcpus() + " vCPUs, "
                        + job.request().resources().memoryMiB() + " MiB, image " + job.newSpec().image(), true);
                String reason = reasons.get(id);
                if (reason != null) {
                    events.add(id, "Unschedulable", null, reason, true);
                }
                if (node != null) {
                    events.add(id, "Scheduled", node.name(), "placed on node " + node.name(), true);
                }
            } else if (storedAlive.contains(id)) {
                if (node != null) {
                    events.add(id, "Scheduled", node.name(), "placed on node " + node.name(), false);
                } else if (changedStoredReasons.containsKey(id)) {
                    events.add(id, "Unschedulable", null, changedStoredReasons.get(id), false);
                }
            }
        }
        return events;
    }

    private Set<UUID> lockStored(Connection connection, List<PlacementJob> jobs) throws SQLException {
        if (jobs.isEmpty()) {
            return Set.of();
        }
        UUID[] ids = jobs.stream().map(job -> job.request().id()).toArray(UUID[]::new);
        Set<UUID> locked = new HashSet<>();
        try (PreparedStatement statement = connection.prepareStatement("""
                SELECT id FROM sandbox
                WHERE id = ANY(?) AND node_id IS NULL AND observed_state = 'PENDING' AND desired_state = 'RUNNING'
                FOR UPDATE SKIP LOCKED""")) {
            statement.setArray(1, connection.createArrayOf("uuid", ids));
            try (ResultSet rows = statement.executeQuery()) {
                while (rows.next()) {
                    locked.add(rows.getObject(1, UUID.class));
                }
            }
        }
        return locked;
    }

    private Map<UUID, NodeInfo> lockNodes(Connection connection, Set<UUID> nodeIds) throws SQLException {
        Map<UUID, NodeInfo> locked = new HashMap<>();
        if (nodeIds.isEmpty()) {
            return locked;
        }
        try (PreparedStatement statement = connection.prepareStatement("""
                SELECT id, name, cap_vcpus, cap_memory_mib, cap_max_vms, alloc_vcpus, alloc_memory_mib, alloc_vms,
                       state, cordoned
                FROM node WHERE id = ANY(?) ORDER BY id FOR UPDATE""")) {
            statement.setArray(1, connection.createArrayOf("uuid", nodeIds.toArray(UUID[]::new)));
            try (ResultSet rows = statement.executeQuery()) {
                while (rows.next()) {
                    // Labels and taints are not needed to re-check a choice; finish() takes them from the cache
                    // (the placement thread writes the cache while this runs on the commit thread).
                    UUID id = rows.getObject(1, UUID.class);
                    locked.put(id, new NodeInfo(id, rows.getString(2),
                            new Resources(rows.getInt(3), rows.getLong(4), rows.getInt(5)),
                            new Resources(rows.getInt(6), rows.getLong(7), rows.getInt(8)),
                            Map.of(), List.of(), "READY".equals(rows.getString(9)), rows.getBoolean(10), List.of()));
                }
            }
        }
        return locked;
    }

    private String json(Object value) {
        try {
            return json.writeValueAsString(value);
        } catch (JsonProcessingException e) {
            throw new IllegalArgumentException("could not serialise " + value + ": " + e.getMessage(), e);
        }
    }

    private static boolean isTransient(SQLException e) {
        String state = e.getSQLState();
        return Objects.equals(state, "40001") || Objects.equals(state, "40P01") || Objects.equals(state, "55P03");
    }

    private static void sleepQuietly() {
        try {
            Thread.sleep(200);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }
}
