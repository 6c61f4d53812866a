package dev.flotilla.controlplane.bench;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.flotilla.contract.v1.ContractVersion;
import dev.flotilla.contract.v1.ControlPlanePaths;
import dev.flotilla.contract.v1.KvmKind;
import dev.flotilla.contract.v1.NodeCapacity;
import dev.flotilla.contract.v1.NodeRegistration;
import dev.flotilla.contract.v1.Taint;
import dev.flotilla.contract.v1.TaintEffect;
import dev.flotilla.controlplane.placement.PlacementEngine;
import io.agroal.api.AgroalDataSource;
import io.vertx.core.Vertx;
import io.vertx.core.VertxOptions;
import io.vertx.core.buffer.Buffer;
import io.vertx.core.http.HttpClient;
import io.vertx.core.http.HttpClientOptions;
import io.vertx.core.http.HttpMethod;
import jakarta.inject.Inject;
import jakarta.inject.Singleton;

import java.io.IOException;
import java.net.ServerSocket;
import java.nio.file.Files;
import java.nio.file.Path;
import java.sql.Connection;
import java.sql.ResultSet;
import java.sql.Statement;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicLong;

/**
 * {@code bench scheduler}: registers a simulated fleet through the node API, then sends sandbox creations through the
 * REST API of this very process (real HTTP, real embedded PostgreSQL, the real placement path) and reports
 * placements per second and latency percentiles of the create requests, which return once placement is committed.
 * The reconciler is off: there are no node agents behind the simulated nodes, so only placement is measured.
 *
 * <p>Before the measured requests, {@code --warmup N} creations (20,000; placed on the same fleet, reported
 * separately) let the JIT compile the request path: cold, the compiler threads take about a third of the process's
 * CPU during the measurement, which a long-running service pays once. {@code --warmup 0} measures the cold service.
 *
 * <p>Options: {@code --nodes N} (10000), {@code --sandboxes N} (100000), {@code --warmup N} (20000),
 * {@code --concurrency N} (256), {@code --json FILE}.
 */
@Singleton
@io.quarkus.arc.Unremovable
public class SchedulerBench {
    private static final String ADMIN_TOKEN = Long.toHexString(Double.doubleToLongBits(Math.random())) + "-bench-admin";
    private static final String JOIN_TOKEN = Long.toHexString(Double.doubleToLongBits(Math.random())) + "-bench-join";

    @Inject
    ObjectMapper json;
    @Inject
    PlacementEngine placement;
    @Inject
    AgroalDataSource dataSource;

    /** Sets up the process before Quarkus starts: a fresh database, fixed tokens, no reconciler, a free port. */
    public static void prepare(String[] args) throws IOException {
        if (!Arrays.asList(args).contains("scheduler")) {
            return;
        }
        if (System.getProperty("flotilla.data-dir") == null) {
            System.setProperty("flotilla.data-dir", Files.createTempDirectory("flotilla-bench-").toString());
            System.setProperty("flotilla-bench.temporary-data-dir", "true");
        }
        System.setProperty("flotilla.embedded-postgres.fresh", "true");
        System.setProperty("flotilla.reconciler.enabled", "false");
        System.setProperty("flotilla.nodes.heartbeat-timeout", "1h");
        System.setProperty("flotilla.auth.admin-tokens", ADMIN_TOKEN);
        System.setProperty("flotilla.auth.join-token", JOIN_TOKEN);
        System.setProperty("quarkus.log.level", "WARN");
        System.setProperty("quarkus.log.category.\"dev.flotilla\".level", "WARN");
        try (ServerSocket socket = new ServerSocket(0)) {
            System.setProperty("quarkus.http.port", Integer.toString(socket.getLocalPort()));
        }
    }

    public int run(String... args) throws Exception {
        if (args.length < 2 || !args[1].equals("scheduler")) {
            System.err.println("usage: bench scheduler [--nodes N] [--sandboxes N] [--warmup N] [--concurrency N] "
                    + "[--json FILE]");
            return 2;
        }
        int nodes = 10_000;
        int sandboxes = 100_000;
        int warmup = 20_000;
        int concurrency = 256;
        Path jsonFile = null;
        for (int i = 2; i < args.length; i++) {
            String value = i + 1 < args.length ? args[i + 1] : null;
            switch (args[i]) {
                case "--nodes" -> nodes = Integer.parseInt(value);
                case "--sandboxes" -> sandboxes = Integer.parseInt(value);
                case "--warmup" -> warmup = Integer.parseInt(value);
                case "--concurrency" -> concurrency = Integer.parseInt(value);
                case "--json" -> jsonFile = Path.of(value);
                default -> {
                    System.err.println("bench scheduler: unknown option " + args[i]);
                    return 2;
                }
            }
            i++;
        }
        int port = Integer.parseInt(System.getProperty("quarkus.http.port"));
        String base = "http://127.0.0.1:" + port;
        // The clients share the two cores with the service and PostgreSQL, so they should cost little CPU: a
        // Vert.x client (one event loop, a kept-alive connection per concurrent client) spends a fraction of
        // what java.net.http does per request. Its own Vert.x instance keeps it off the server's event loops.
        Vertx clientVertx = Vertx.vertx(new VertxOptions().setEventLoopPoolSize(1).setWorkerPoolSize(1));
        HttpClient http = clientVertx.createHttpClient(new HttpClientOptions().setDefaultHost("127.0.0.1")
                .setDefaultPort(port).setKeepAlive(true).setMaxPoolSize(concurrency).setPipelining(false));
        try {
            return run(http, base, nodes, sandboxes, warmup, concurrency, jsonFile);
        } finally {
            http.close().toCompletionStage().toCompletableFuture().get(10, TimeUnit.SECONDS);
            clientVertx.close().toCompletionStage().toCompletableFuture().get(10, TimeUnit.SECONDS);
        }
    }

    private int run(HttpClient http, String base, int nodes, int sandboxes, int warmup, int concurrency,
                    Path jsonFile) throws Exception {

        System.out.printf("bench scheduler: registering %,d nodes through %s%s%n", nodes, base, ControlPlanePaths.REGISTER);
        long registrationStart = System.nanoTime();
        final int nodeCount = nodes;
        runConcurrently(nodes, Math.min(concurrency, 32), i -> {
            NodeRegistration registration = new NodeRegistration(String.format("node-%05d", i), "http://127.0.0.1:9/",
                    null, new NodeCapacity(16 + (i % 3) * 16, 32768L + (i % 4) * 16384, 20 + (i % 5) * 5),
                    Map.of("zone", "zone-" + (i % 4), "rack", "rack-" + (i % 50)),
                    i % 20 == 0 ? List.of(new Taint("dedicated", "batch", TaintEffect.NO_SCHEDULE)) : List.of(),
                    KvmKind.HARDWARE, "bench");
            post(http, ControlPlanePaths.REGISTER, JOIN_TOKEN, registration, 200);
            return 0;
        }, new long[nodeCount]);
        double registrationSeconds = (System.nanoTime() - registrationStart) / 1e9;
        System.out.printf("bench scheduler: %,d nodes registered in %.1f s%n", nodes, registrationSeconds);
        waitForCache(nodes);

        double warmupRate = 0;
        if (warmup > 0) {
            System.out.printf("bench scheduler: warm-up: creating %,d sandboxes (not measured)%n", warmup);
            AtomicInteger warmupPlaced = new AtomicInteger();
            long warmupStart = System.nanoTime();
            runConcurrently(warmup, concurrency, i -> {
                if (create(http, "warmup-", i)) {
                    warmupPlaced.incrementAndGet();
                }
                return 0;
            }, new long[warmup]);
            warmupRate = warmupPlaced.get() / ((System.nanoTime() - warmupStart) / 1e9);
            System.out.printf("bench scheduler: warm-up: %,d placed, %.0f placements/s%n", warmupPlaced.get(), warmupRate);
        }

        System.out.printf("bench scheduler: creating %,d sandboxes with %d concurrent clients%n", sandboxes, concurrency);
        long[] latencies = new long[sandboxes];
        AtomicInteger placed = new AtomicInteger();
        AtomicInteger pending = new AtomicInteger();
        long postmaster = postmasterPid();
        double loadBefore = loadAverage();
        CpuUsage cpuBefore = CpuUsage.now(postmaster);
        long start = System.nanoTime();
        runConcurrently(sandboxes, concurrency, i -> {
            if (create(http, "sb-", i)) {
                placed.incrementAndGet();
            } else {
                pending.incrementAndGet();
            }
            return 0;
        }, latencies);
        double seconds = (System.nanoTime() - start) / 1e9;
        CpuUsage cpu = CpuUsage.now(postmaster).minus(cpuBefore);
        double loadAfter = loadAverage();
        Arrays.sort(latencies);
        double rate = placed.get() / seconds;
        double p50 = latencies[(int) Math.ceil(0.50 * sandboxes) - 1] / 1e6;
        double p99 = latencies[(int) Math.ceil(0.99 * sandboxes) - 1] / 1e6;
        double max = latencies[sandboxes - 1] / 1e6;
        String capacityCheck = capacityCheck();

        System.out.printf("bench scheduler: %,d placed, %,d pending in %.1f s%n", placed.get(), pending.get(), seconds);
        System.out.printf("bench scheduler: %.0f placements/s, latency p50 %.1f ms, p99 %.1f ms, max %.1f ms%n",
                rate, p50, p99, max);
        double jvmCpuMillis = cpu.jvmNanos() / 1e6 / Math.max(1, placed.get());
        double jitCpuMillis = cpu.jitNanos() < 0 ? -1 : cpu.jitNanos() / 1e6 / Math.max(1, placed.get());
        double gcCpuMillis = cpu.gcNanos() < 0 ? -1 : cpu.gcNanos() / 1e6 / Math.max(1, placed.get());
        double postgresCpuMillis = cpu.postgresNanos() < 0 ? -1 : cpu.postgresNanos() / 1e6 / Math.max(1, placed.get());
        System.out.printf("bench scheduler: CPU per placement: %.2f ms in this JVM (service and bench clients; of which "
                        + "JIT compiler %s, GC %s), %s in PostgreSQL; load average %.1f before, %.1f after (%d cores)%n",
                jvmCpuMillis, millis(jitCpuMillis), millis(gcCpuMillis), millis(postgresCpuMillis), loadBefore,
                loadAfter, Runtime.getRuntime().availableProcessors());
        System.out.println("bench scheduler: capacity check: " + capacityCheck);
        System.out.println("bench scheduler: placement path: " + placement.statistics());
        if (jsonFile != null) {
            Map<String, Object> result = new LinkedHashMap<>();
            result.put("benchmark", "scheduler");
            result.put("nodes", nodes);
            result.put("sandboxes", sandboxes);
            result.put("warmup", warmup);
            result.put("warmupPlacementsPerSecond", warmupRate);
            result.put("concurrency", concurrency);
            result.put("placed", placed.get());
            result.put("pending", pending.get());
            result.put("seconds", seconds);
            result.put("placementsPerSecond", rate);
            result.put("latencyP50Millis", p50);
            result.put("latencyP99Millis", p99);
            result.put("latencyMaxMillis", max);
            result.put("nodeRegistrationSeconds", registrationSeconds);
            result.put("capacityCheck", capacityCheck);
            result.put("placementPath", placement.statistics());
            result.put("cores", Runtime.getRuntime().availableProcessors());
            result.put("jvmCpuMillisPerPlacement", jvmCpuMillis);
            result.put("postgresCpuMillisPerPlacement", postgresCpuMillis);
            result.put("jitCpuMillisPerPlacement", jitCpuMillis);
            result.put("gcCpuMillisPerPlacement", gcCpuMillis);
            result.put("loadAverageBefore", loadBefore);
            result.put("loadAverageAfter", loadAfter);
            Files.writeString(jsonFile, json.writerWithDefaultPrettyPrinter().writeValueAsString(result) + "\n");
            System.out.println("bench scheduler: wrote " + jsonFile);
        }
        return capacityCheck.startsWith("OK") ? 0 : 1;
    }

    /** Creates sandbox {@code prefix + i} of the benchmark's mix; true when it was placed. */
    private boolean create(HttpClient http, String prefix, int i) throws Exception {
        Map<String, Object> spec = new LinkedHashMap<>();
        spec.put("name", prefix + i);
        spec.put("image", "docker.io/library/alpine:3.20");
        spec.put("vcpus", 1 + (i % 2));
        spec.put("memoryMiB", 256 + (i % 4) * 256);
        spec.put("labels", Map.of("app", "app-" + (i % 100)));
        if (i % 10 == 0) {
            spec.put("nodeSelector", Map.of("zone", "zone-" + (i % 4)));
        }
        if (i % 10 == 1) {
            spec.put("antiAffinity", Map.of("app", "app-" + (i % 100)));
        }
        if (i % 50 == 2) {
            spec.put("tolerations", List.of(Map.of("key", "dedicated", "operator", "Exists")));
        }
        JsonNode created;
        try {
            created = post(http, "/api/v1/sandboxes", ADMIN_TOKEN, spec, 201);
        } catch (Exception e) {
            throw new IllegalStateException("creating " + prefix + i + " failed (" + e + "); the database has it as "
                    + storedState(prefix + i) + ", " + placement.queued() + " items in the placement queue", e);
        }
        return "SCHEDULED".equals(created.path("observedState").asText());
    }

    /** A sandbox's row as the database has it, for the report of a failed request. */
    private String storedState(String name) {
        try (Connection connection = dataSource.getConnection();
             var statement = connection.prepareStatement(
                     "SELECT observed_state, node_id, message, created_at FROM sandbox WHERE name = ?")) {
            statement.setString(1, name);
            try (ResultSet row = statement.executeQuery()) {
                return row.next() ? row.getString(1) + " on node " + row.getString(2) + " (" + row.getString(3)
                        + ", created " + row.getString(4) + ")" : "absent";
            }
        } catch (Exception e) {
            return "unknown (" + e.getMessage() + ")";
        }
    }

    private interface Task {
        int run(int index) throws Exception;
    }

    /** Runs task(0..count-1) on {@code concurrency} virtual threads; records each call's duration in latencies. */
    private static void runConcurrently(int count, int concurrency, Task task, long[] latencies) throws Exception {
        AtomicInteger next = new AtomicInteger();
        AtomicLong failures = new AtomicLong();
        List<Exception> firstFailure = new ArrayList<>();
        try (ExecutorService threads = Executors.newVirtualThreadPerTaskExecutor()) {
            for (int t = 0; t < concurrency; t++) {
                threads.execute(() -> {
                    int i;
                    while ((i = next.getAndIncrement()) < count) {
                        long begin = System.nanoTime();
                        try {
                            task.run(i);
                        } catch (Exception e) {
                            if (failures.incrementAndGet() == 1) {
                                synchronized (firstFailure) {
                                    firstFailure.add(e);
                                }
                            }
                        }
                        latencies[i] = System.nanoTime() - begin;
                    }
                });
            }
        }
        if (failures.get() > 0) {
            throw new IllegalStateException(failures.get() + " of " + count + " requests failed; first: "
                    + firstFailure.getFirst().getMessage(), firstFailure.getFirst());
        }
    }

    /** One POST from a virtual thread, which waits for the answer (the Vert.x client itself never blocks). */
    private JsonNode post(HttpClient http, String path, String token, Object body, int expectedStatus) throws Exception {
        Buffer payload = Buffer.buffer(json.writeValueAsBytes(body));
        record Answer(int status, Buffer body) {
        }
        Answer answer = http.request(HttpMethod.POST, path)
                .compose(request -> request.putHeader("Authorization", "Bearer " + token)
                        .putHeader("Content-Type", "application/json")
                        .putHeader(ContractVersion.HEADER, ContractVersion.CURRENT)
                        .send(payload))
                .compose(response -> response.body().map(bytes -> new Answer(response.statusCode(), bytes)))
                .toCompletionStage().toCompletableFuture().get(120, TimeUnit.SECONDS);
        if (answer.status() != expectedStatus) {
            throw new IllegalStateException("POST " + path + " answered " + answer.status() + ": " + answer.body());
        }
        return json.readTree(answer.body().getBytes());
    }

    /** The PostgreSQL server's process id when it runs on this machine with a readable data directory, else -1. */
    private long postmasterPid() {
        try (Connection connection = dataSource.getConnection(); Statement statement = connection.createStatement();
             ResultSet rows = statement.executeQuery("SHOW data_directory")) {
            return rows.next() ? CpuUsage.postmasterPid(Path.of(rows.getString(1))) : -1;
        } catch (Exception e) {
            return -1;
        }
    }

    private static String millis(double value) {
        return value < 0 ? "unknown" : String.format("%.2f ms", value);
    }

    private static double loadAverage() {
        return java.lang.management.ManagementFactory.getOperatingSystemMXBean().getSystemLoadAverage();
    }

    private void waitForCache(int nodes) throws InterruptedException {
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(120);
        while (placement.queued() > 0 && System.nanoTime() < deadline) {
            Thread.sleep(50);
        }
    }

    /** Verifies in SQL that no node holds more than its capacity allows and that allocations match placements. */
    private String capacityCheck() throws Exception {
        double vcpuOvercommit = placement.policy().vcpuOvercommit();
        double memoryOvercommit = placement.policy().memoryOvercommit();
        try (Connection connection = dataSource.getConnection(); Statement statement = connection.createStatement();
             ResultSet rows = statement.executeQuery("""
                     SELECT count(*) FILTER (WHERE s.vcpus > floor(n.cap_vcpus * %s) OR s.memory > floor(n.cap_memory_mib * %s)
                                                   OR s.vms > n.cap_max_vms),
                            count(*) FILTER (WHERE s.vcpus <> n.alloc_vcpus OR s.memory <> n.alloc_memory_mib
                                                   OR s.vms <> n.alloc_vms)
                     FROM node n
                     JOIN (SELECT node_id, sum(vcpus) AS vcpus, sum(memory_mib) AS memory, count(*) AS vms
                           FROM sandbox WHERE node_id IS NOT NULL GROUP BY node_id) s ON s.node_id = n.id"""
                     .formatted(vcpuOvercommit, memoryOvercommit))) {
            rows.next();
            long over = rows.getLong(1);
            long mismatched = rows.getLong(2);
            return over == 0 && mismatched == 0 ? "OK (no node over capacity, allocations match placements)"
                    : "FAILED (" + over + " nodes over capacity, " + mismatched + " nodes with allocations not matching placements)";
        }
    }
}
