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
import java.util.Arrays;
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
 *   <li>insert the new sandboxes ({@code ON CONFLICT (name) DO NOTHING}) and lock the stored ones still waiting
 *       ({@code FOR UPDATE SKIP LOCKED}, so two replicas never place the same sandbox);</li>
 *   <li>lock the chosen nodes ({@code SELECT ... ORDER BY id FOR UPDATE}; the order avoids deadlocks between
 *       replicas) and re-check capacity, health and cordon against the locked rows;</li>
 *   <li>write the nodes' new allocations, the sandboxes' placements and their events with array parameters.</li>
 * </ol>
 * That is six round trips per batch however large it is. A choice that no longer fits the locked row (another
 * replica placed there first) is retried in the next batch with the refreshed node, so capacity is never
 * exceeded whatever the number of API clients or replicas.
 */
@Singleton
public class PlacementEngine {
    private static final Logger LOG = Logger.getLogger(PlacementEngine.class);
    private static final int MAX_ATTEMPTS = 8;

    @Inject
    AgroalDataSource dataSource;
    @Inject
    ObjectMapper json;
    @Inject
    FlotillaConfig config;
    @Inject
    MeterRegistry registry;

    private final LinkedBlockingQueue<Object> queue = new LinkedBlockingQueue<>();
    /** Stored sandboxes queued or being placed, so the reconciler does not queue them twice. */
    private final Set<UUID> inFlight = ConcurrentHashMap.newKeySet();
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
        queue.add(new PlacementJob(request(id, spec), spec, null, result, 0, System.nanoTime()));
        return result;
    }

    /** Queues a stored PENDING sandbox unless it is already queued. */
    public CompletableFuture<PlacementOutcome> placeExisting(UUID id, SandboxSpec spec, String previousMessage) {
        CompletableFuture<PlacementOutcome> result = new CompletableFuture<>();
        if (!inFlight.add(id)) {
            result.complete(new PlacementOutcome.Skipped());
            return result;
        }
        result.whenComplete((outcome, failure) -> inFlight.remove(id));
        queue.add(new PlacementJob(request(id, spec), null, previousMessage, result, 0, System.nanoTime()));
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

    /** A batch scheduled against the cache, with the nodes as its choices would leave them. */
    private record Plan(List<PlacementJob> jobs, SchedulingResult result, Map<UUID, NodeInfo> optimistic) {
    }

    /** What a committed (or failed) batch transaction did, applied to the cache on the placement thread. */
    private record Committed(List<PlacementJob> jobs, Map<UUID, PlacementOutcome> outcomes, List<PlacementJob> retries,
                             Map<UUID, NodeInfo> lockedNodes, Map<UUID, Resources> newAllocations,
                             Map<UUID, List<Map<String, String>>> addedLabels, SQLException failure) {
    }

    /**
     * Scheduling of the next batch overlaps the database transaction of the previous one (a pipeline of depth
     * one): the next batch is scheduled against the cache plus the in-flight batch's choices, and the in-flight
     * transaction's authoritative node rows replace them when it finishes.
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
        Future<List<NodeInfo>> reloading = null;
        Map<UUID, NodeInfo> inFlightNodes = Map.of();
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
                            plan = schedule(List.copyOf(batch), inFlightNodes);
                            batch.clear();
                        }
                        Committed done = inFlight.get();
                        inFlight = null;
                        inFlightNodes = Map.of();
                        finish(done);
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
                        plan = schedule(List.copyOf(batch), Map.of());
                        batch.clear();
                    }
                    if (plan != null) {
                        Plan submitted = plan;
                        inFlight = committer.submit(() -> commit(submitted));
                        inFlightNodes = plan.optimistic();
                    }
                } catch (InterruptedException e) {
                    Thread.currentThread().interrupt();
                    break;
                } catch (RuntimeException | SQLException | ExecutionException e) {
                    LOG.errorf(e, "placement failed; the affected sandboxes stay PENDING and are retried");
                    for (PlacementJob job : batch) {
                        job.result().completeExceptionally(e);
                    }
                    if (plan != null && inFlight == null) {
                        plan.jobs().forEach(job -> job.result().completeExceptionally(e));
                    }
                    batch.clear();
                    inFlight = null;
                    inFlightNodes = Map.of();
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

    private Plan schedule(List<PlacementJob> jobs, Map<UUID, NodeInfo> inFlightNodes) {
        batchSizes.record(jobs.size());
        List<SandboxRequest> requests = new ArrayList<>(jobs.size());
        for (PlacementJob job : jobs) {
            requests.add(job.request());
        }
        long start = System.nanoTime();
        List<NodeInfo> nodes = cache.nodes();
        if (!inFlightNodes.isEmpty()) {
            NodeInfo[] withInFlight = nodes.toArray(NodeInfo[]::new);
            for (NodeInfo pending : inFlightNodes.values()) {
                int index = cache.indexOf(pending.id());
                if (index >= 0) {
                    withInFlight[index] = pending;
                }
            }
            nodes = Arrays.asList(withInFlight);
        }
        SchedulingResult result = Scheduler.schedule(new FleetSnapshot(nodes, cursor), requests, policy);
        cursor = result.nextCursor();
        // The nodes as this batch's choices leave them, for scheduling the next batch while this one commits.
        Map<UUID, NodeInfo> optimistic = new HashMap<>(inFlightNodes);
        for (int i = 0; i < requests.size(); i++) {
            if (result.decisions().get(i) instanceof SchedulingResult.Placement placement) {
                NodeInfo node = optimistic.getOrDefault(placement.node().id(), placement.node());
                optimistic.put(node.id(), node.withAllocated(node.allocated().plus(requests.get(i).resources())));
            }
        }
        scheduling.record(System.nanoTime() - start, TimeUnit.NANOSECONDS);
        return new Plan(jobs, result, optimistic);
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
                        outcomes.put(job.request().id(), new PlacementOutcome.Skipped());
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

                // New sandboxes are inserted already placed (or PENDING); a taken name inserts nothing.
                Set<UUID> inserted = insertNew(connection, jobs.stream().filter(PlacementJob::isNew).toList(),
                        acceptedNodes, unschedulable, now);
                List<PlacementJob> accepted = new ArrayList<>();
                for (PlacementJob job : jobs) {
                    UUID id = job.request().id();
                    if (job.isNew() && !inserted.contains(id)) {
                        outcomes.put(id, new PlacementOutcome.NameTaken(job.request().name()));
                        acceptedNodes.remove(id);
                        unschedulable.remove(id);
                    } else if (acceptedNodes.containsKey(id)) {
                        accepted.add(job);
                    }
                }
                retries.removeIf(job -> outcomes.containsKey(job.request().id()));
                for (PlacementJob job : accepted) {
                    NodeInfo node = acceptedNodes.get(job.request().id());
                    newAllocations.merge(node.id(), node.allocated().plus(job.request().resources()),
                            (sum, ignored) -> sum.plus(job.request().resources()));
                    if (!job.request().labels().isEmpty()) {
                        addedLabels.computeIfAbsent(node.id(), id -> new ArrayList<>()).add(job.request().labels());
                    }
                }
                updateNodes(connection, newAllocations);
                updatePlaced(connection, accepted.stream().filter(job -> !job.isNew()).toList(), acceptedNodes, now);
                Map<UUID, String> changedReasons = new LinkedHashMap<>();
                for (PlacementJob job : storedJobs) {
                    String reason = unschedulable.get(job.request().id());
                    if (reason != null && !reason.equals(job.previousMessage())) {
                        changedReasons.put(job.request().id(), reason);
                    }
                }
                updateUnschedulable(connection, changedReasons);
                insertEvents(connection, jobs, inserted, accepted, acceptedNodes, unschedulable, changedReasons, now);
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

    /** Applies a finished transaction to the cache and answers the callers (placement thread). */
    private void finish(Committed committed) throws SQLException {
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
        for (NodeInfo locked : lockedNodes.values()) {
            NodeInfo cached = cache.get(locked.id());
            List<Map<String, String>> labels = cached == null ? List.of() : cached.sandboxLabels();
            List<Map<String, String>> added = addedLabels.get(locked.id());
            if (added != null) {
                labels = new ArrayList<>(labels);
                labels.addAll(added);
            }
            cache.replace(new NodeInfo(locked.id(), locked.name(), locked.capacity(),
                    newAllocations.getOrDefault(locked.id(), locked.allocated()),
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
            // A new sandbox is stored (PENDING) by now: retry it as a stored one.
            PlacementJob stored = new PlacementJob(job.request(), null, null, job.result(), job.attempts() + 1,
                    job.enqueuedNanos());
            requeue(stored, "node capacity taken concurrently");
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

    private Set<UUID> insertNew(Connection connection, List<PlacementJob> jobs, Map<UUID, NodeInfo> placedOn,
                                Map<UUID, String> reasons, Instant now) throws SQLException {
        if (jobs.isEmpty()) {
            return Set.of();
        }
        int n = jobs.size();
        UUID[] ids = new UUID[n], nodeIds = new UUID[n];
        String[] names = new String[n], images = new String[n], commands = new String[n], labels = new String[n],
                selectors = new String[n], tolerations = new String[n], antiAffinity = new String[n], policies = new String[n],
                nodeNames = new String[n], states = new String[n], messages = new String[n];
        Integer[] vcpus = new Integer[n];
        Long[] memory = new Long[n];
        for (int i = 0; i < n; i++) {
            SandboxSpec spec = jobs.get(i).newSpec();
            UUID id = jobs.get(i).request().id();
            NodeInfo node = placedOn.get(id);
            ids[i] = id;
            names[i] = spec.name();
            images[i] = spec.image();
            commands[i] = write(spec.command());
            vcpus[i] = spec.vcpus();
            memory[i] = spec.memoryMiB();
            labels[i] = write(spec.labels());
            selectors[i] = write(spec.nodeSelector());
            tolerations[i] = write(spec.tolerations());
            antiAffinity[i] = write(spec.antiAffinity());
            policies[i] = spec.restartPolicy().name();
            nodeIds[i] = node == null ? null : node.id();
            nodeNames[i] = node == null ? null : node.name();
            states[i] = node == null ? "PENDING" : "SCHEDULED";
            messages[i] = reasons.get(id);
        }
        Set<UUID> inserted = new HashSet<>();
        try (PreparedStatement statement = connection.prepareStatement("""
                INSERT INTO sandbox (id, name, image, command, vcpus, memory_mib, labels, node_selector, tolerations,
                                     anti_affinity, restart_policy, desired_state, observed_state, node_id, last_node_name,
                                     message, created_at, updated_at, placed_at)
                SELECT t.id, t.name, t.image, t.command::jsonb, t.vcpus, t.memory, t.labels::jsonb, t.selector::jsonb,
                       t.tolerations::jsonb, t.anti::jsonb, t.policy, 'RUNNING', t.state, t.node, t.node_name, t.message,
                       ?, ?, CASE WHEN t.node IS NULL THEN NULL ELSE ?::timestamptz END
                FROM unnest(?::uuid[], ?::text[], ?::text[], ?::text[], ?::int4[], ?::int8[], ?::text[], ?::text[],
                            ?::text[], ?::text[], ?::text[], ?::uuid[], ?::text[], ?::text[], ?::text[])
                     AS t(id, name, image, command, vcpus, memory, labels, selector, tolerations, anti, policy, node,
                          node_name, state, message)
                ON CONFLICT (name) DO NOTHING
                RETURNING id""")) {
            Timestamp timestamp = Timestamp.from(now);
            statement.setTimestamp(1, timestamp);
            statement.setTimestamp(2, timestamp);
            statement.setTimestamp(3, timestamp);
            statement.setArray(4, connection.createArrayOf("uuid", ids));
            statement.setArray(5, connection.createArrayOf("text", names));
            statement.setArray(6, connection.createArrayOf("text", images));
            statement.setArray(7, connection.createArrayOf("text", commands));
            statement.setArray(8, connection.createArrayOf("int4", vcpus));
            statement.setArray(9, connection.createArrayOf("int8", memory));
            statement.setArray(10, connection.createArrayOf("text", labels));
            statement.setArray(11, connection.createArrayOf("text", selectors));
            statement.setArray(12, connection.createArrayOf("text", tolerations));
            statement.setArray(13, connection.createArrayOf("text", antiAffinity));
            statement.setArray(14, connection.createArrayOf("text", policies));
            statement.setArray(15, connection.createArrayOf("uuid", nodeIds));
            statement.setArray(16, connection.createArrayOf("text", nodeNames));
            statement.setArray(17, connection.createArrayOf("text", states));
            statement.setArray(18, connection.createArrayOf("text", messages));
            try (ResultSet rows = statement.executeQuery()) {
                while (rows.next()) {
                    inserted.add(rows.getObject(1, UUID.class));
                }
            }
        }
        return inserted;
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
                    UUID id = rows.getObject(1, UUID.class);
                    NodeInfo cached = cache.get(id);
                    locked.put(id, new NodeInfo(id, rows.getString(2),
                            new Resources(rows.getInt(3), rows.getLong(4), rows.getInt(5)),
                            new Resources(rows.getInt(6), rows.getLong(7), rows.getInt(8)),
                            cached == null ? Map.of() : cached.labels(), cached == null ? List.of() : cached.taints(),
                            "READY".equals(rows.getString(9)), rows.getBoolean(10), List.of()));
                }
            }
        }
        return locked;
    }

    private void updateNodes(Connection connection, Map<UUID, Resources> allocations) throws SQLException {
        if (allocations.isEmpty()) {
            return;
        }
        int n = allocations.size();
        UUID[] ids = new UUID[n];
        Integer[] vcpus = new Integer[n], vms = new Integer[n];
        Long[] memory = new Long[n];
        int i = 0;
        for (Map.Entry<UUID, Resources> entry : allocations.entrySet()) {
            ids[i] = entry.getKey();
            vcpus[i] = (int) entry.getValue().vcpus();
            memory[i] = entry.getValue().memoryMiB();
            vms[i] = (int) entry.getValue().vms();
            i++;
        }
        try (PreparedStatement statement = connection.prepareStatement("""
                UPDATE node n SET alloc_vcpus = d.vcpus, alloc_memory_mib = d.memory, alloc_vms = d.vms
                FROM unnest(?::uuid[], ?::int4[], ?::int8[], ?::int4[]) AS d(id, vcpus, memory, vms)
                WHERE n.id = d.id""")) {
            statement.setArray(1, connection.createArrayOf("uuid", ids));
            statement.setArray(2, connection.createArrayOf("int4", vcpus));
            statement.setArray(3, connection.createArrayOf("int8", memory));
            statement.setArray(4, connection.createArrayOf("int4", vms));
            statement.executeUpdate();
        }
    }

    private void updatePlaced(Connection connection, List<PlacementJob> accepted, Map<UUID, NodeInfo> nodes,
                              Instant now) throws SQLException {
        if (accepted.isEmpty()) {
            return;
        }
        UUID[] ids = new UUID[accepted.size()], nodeIds = new UUID[accepted.size()];
        String[] nodeNames = new String[accepted.size()];
        for (int i = 0; i < accepted.size(); i++) {
            UUID id = accepted.get(i).request().id();
            ids[i] = id;
            nodeIds[i] = nodes.get(id).id();
            nodeNames[i] = nodes.get(id).name();
        }
        try (PreparedStatement statement = connection.prepareStatement("""
                UPDATE sandbox s SET node_id = d.node, last_node_name = d.node_name, observed_state = 'SCHEDULED',
                       message = NULL, placed_at = ?, updated_at = ?, agent_synced = false, sync_attempts = 0,
                       next_sync_at = NULL, version = s.version + 1
                FROM unnest(?::uuid[], ?::uuid[], ?::text[]) AS d(id, node, node_name)
                WHERE s.id = d.id""")) {
            Timestamp timestamp = Timestamp.from(now);
            statement.setTimestamp(1, timestamp);
            statement.setTimestamp(2, timestamp);
            statement.setArray(3, connection.createArrayOf("uuid", ids));
            statement.setArray(4, connection.createArrayOf("uuid", nodeIds));
            statement.setArray(5, connection.createArrayOf("text", nodeNames));
            statement.executeUpdate();
        }
    }

    private void updateUnschedulable(Connection connection, Map<UUID, String> reasons) throws SQLException {
        if (reasons.isEmpty()) {
            return;
        }
        try (PreparedStatement statement = connection.prepareStatement("""
                UPDATE sandbox s SET message = d.reason, updated_at = now()
                FROM unnest(?::uuid[], ?::text[]) AS d(id, reason) WHERE s.id = d.id""")) {
            statement.setArray(1, connection.createArrayOf("uuid", reasons.keySet().toArray(UUID[]::new)));
            statement.setArray(2, connection.createArrayOf("text", reasons.values().toArray(String[]::new)));
            statement.executeUpdate();
        }
    }

    private void insertEvents(Connection connection, List<PlacementJob> jobs, Set<UUID> inserted,
                              List<PlacementJob> accepted, Map<UUID, NodeInfo> nodes, Map<UUID, String> newReasons,
                              Map<UUID, String> changedStoredReasons, Instant now) throws SQLException {
        List<UUID> ids = new ArrayList<>();
        List<String> types = new ArrayList<>(), nodeNames = new ArrayList<>(), messages = new ArrayList<>();
        for (PlacementJob job : jobs) {
            UUID id = job.request().id();
            if (job.isNew() && inserted.contains(id)) {
                ids.add(id);
                types.add("Created");
                nodeNames.add(null);
                messages.add("sandbox created: " + job.request().resources().vcpus() + " vCPUs, "
                        + job.request().resources().memoryMiB() + " MiB, image " + job.newSpec().image());
                String reason = newReasons.get(id);
                if (reason != null) {
                    ids.add(id);
                    types.add("Unschedulable");
                    nodeNames.add(null);
                    messages.add(reason);
                }
            }
        }
        for (PlacementJob job : accepted) {
            NodeInfo node = nodes.get(job.request().id());
            ids.add(job.request().id());
            types.add("Scheduled");
            nodeNames.add(node.name());
            messages.add("placed on node " + node.name());
        }
        changedStoredReasons.forEach((id, reason) -> {
            ids.add(id);
            types.add("Unschedulable");
            nodeNames.add(null);
            messages.add(reason);
        });
        if (ids.isEmpty()) {
            return;
        }
        try (PreparedStatement statement = connection.prepareStatement("""
                INSERT INTO sandbox_event (sandbox_id, at, type, node_name, message)
                SELECT d.id, ?, d.type, d.node_name, d.message
                FROM unnest(?::uuid[], ?::text[], ?::text[], ?::text[]) AS d(id, type, node_name, message)""")) {
            statement.setTimestamp(1, Timestamp.from(now));
            statement.setArray(2, connection.createArrayOf("uuid", ids.toArray(UUID[]::new)));
            statement.setArray(3, connection.createArrayOf("text", types.toArray(String[]::new)));
            statement.setArray(4, connection.createArrayOf("text", nodeNames.toArray(String[]::new)));
            statement.setArray(5, connection.createArrayOf("text", messages.toArray(String[]::new)));
            statement.executeUpdate();
        }
    }

    private String write(Object value) {
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
