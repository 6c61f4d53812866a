package dev.flotilla.node.bench;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;

import java.io.IOException;
import java.io.PrintStream;
import java.net.ServerSocket;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;

/**
 * {@code bench density --count N}: starts a node agent (the packaged jar, as a child process, with a throwaway
 * state directory), creates N tiny-guest sandboxes through its REST API from {@code --concurrency} client threads,
 * keeps them all running, and reports: creation rate, boot time p50/p99 (start request to the guest's boot-timer
 * write, as the agent reports it) and API create latency, host memory per VM (fall of MemAvailable; rise of the
 * agent's RSS; rise of the kernel's Slab + KernelStack + PageTables), and the agent's heap and thread counts.
 * Checkpoints every N/{@code --steps} sandboxes feed the plot (an HTML page with inline SVG) of boot time and
 * memory against N. Finally every sandbox is deleted through the API and the agent is stopped with SIGTERM.
 *
 * <p>The agent gets vCPU and memory overcommit high enough for N tiny guests (each touches one page of its
 * 16 MiB); the figures say which ratios were used.
 */
public final class DensityBench {
    private static final ObjectMapper JSON = new ObjectMapper();
    private static final String TOKEN = "density-bench-token";

    record Options(int count, int concurrency, int steps, Path json, Path html, Path jar, boolean fsync) {
    }

    /**
     * @param heapUsedBytes agent heap in use right after a full GC (jcmd GC.run): live data, not garbage
     * @param agentThreads  the agent JVM's threads (ThreadMXBean)
     * @param osThreads     the agent process's tasks in /proc, which also counts the kernel's per-VM KVM worker
     *                      (kvm-nx-lpage-recovery) that KVM attaches to the process creating a VM
     */
    record Checkpoint(int count, double seconds, long memAvailableDropKib, long agentRssKib, long kernelKib,
                      long heapUsedBytes, int agentThreads, int osThreads) {
    }

    private DensityBench() {
    }

    public static int main(String[] args) {
        try {
            Options o = parse(args);
            return new Run(o, System.out).run();
        } catch (IllegalArgumentException e) {
            System.err.println("bench density: " + e.getMessage());
            System.err.println("usage: bench density --count N [--concurrency C] [--steps S] [--json FILE] [--html FILE] [--fsync true|false] [--jar quarkus-run.jar]");
            return 2;
        } catch (Exception e) {
            System.err.println("bench density failed: " + e);
            e.printStackTrace();
            return 1;
        }
    }

    static Options parse(String[] args) {
        List<String> a = Arrays.asList(args);
        if (a.size() < 2 || !a.get(1).equals("density")) {
            throw new IllegalArgumentException("the benchmarks here are 'density' and 'pod-start'");
        }
        int count = 100;
        int concurrency = 4;
        int steps = 10;
        Path json = null;
        Path html = Path.of("node-agent/target/bench/density.html"); // beside the build, never in the checkout
        Path jar = Path.of(System.getProperty("flotilla.node.jar", "node-agent/target/quarkus-app/quarkus-run.jar"));
        boolean fsync = true;
        for (int i = 2; i < a.size(); i++) {
            String flag = a.get(i);
            if (i + 1 >= a.size()) {
                throw new IllegalArgumentException(flag + " needs a value");
            }
            String v = a.get(++i);
            try {
                switch (flag) {
                    case "--count" -> count = Integer.parseInt(v);
                    case "--concurrency" -> concurrency = Integer.parseInt(v);
                    case "--steps" -> steps = Integer.parseInt(v);
                    case "--json" -> json = Path.of(v);
                    case "--html" -> html = Path.of(v);
                    case "--jar" -> jar = Path.of(v);
                    case "--fsync" -> fsync = Boolean.parseBoolean(v);
                    default -> throw new IllegalArgumentException("unknown option " + flag);
                }
            } catch (NumberFormatException e) {
                throw new IllegalArgumentException(flag + " needs a whole number, not " + v);
            }
        }
        if (count < 1 || concurrency < 1 || steps < 1) {
            throw new IllegalArgumentException("--count, --concurrency and --steps must be at least 1");
        }
        if (!Files.isRegularFile(jar)) {
            throw new IllegalArgumentException("the node agent jar " + jar + " does not exist (build node-agent first)");
        }
        return new Options(count, concurrency, Math.min(steps, count), json, html, jar, fsync);
    }

    private static final class Run {
        private final Options o;
        private final PrintStream out;
        private final HttpClient http = HttpClient.newBuilder().version(HttpClient.Version.HTTP_1_1)
                .connectTimeout(Duration.ofSeconds(5)).build();
        private String base;
        private Process agent;

        Run(Options o, PrintStream out) {
            this.o = o;
            this.out = out;
        }

        int run() throws Exception {
            Path state = Files.createTempDirectory("flotilla-density-");
            int port;
            try (ServerSocket s = new ServerSocket(0)) {
                port = s.getLocalPort();
            }
            base = "http://127.0.0.1:" + port;
            long hostMemMib = meminfo().get("MemTotal") / 1024;
            int cpus = Runtime.getRuntime().availableProcessors();
            double cpuOvercommit = Math.max(4, Math.ceil((double) o.count() / cpus) + 1);
            double memoryOvercommit = Math.max(1.0, Math.ceil(o.count() * 16.0 * 1.1 / Math.max(1, hostMemMib - 1024) * 10) / 10);
            List<String> cmd = new ArrayList<>(List.of(Path.of(System.getProperty("java.home"), "bin", "java").toString(),
                    "--enable-native-access=ALL-UNNAMED", "-XX:+UseSerialGC",
                    "-Dquarkus.http.port=" + port, "-Dquarkus.http.host=127.0.0.1",
                    "-Dflotilla.node.state-dir=" + state, "-Dflotilla.node.auth.tokens=" + TOKEN,
                    "-Dflotilla.node.capacity.cpu-overcommit=" + cpuOvercommit,
                    "-Dflotilla.node.capacity.memory-overcommit=" + memoryOvercommit,
                    "-Dflotilla.node.capacity.max-vms=" + Math.max(4096, o.count()),
                    "-Dflotilla.node.state-fsync=" + o.fsync(),
                    "-jar", o.jar().toString()));
            out.printf(Locale.ROOT, "density: starting the node agent (%s) on port %d, overcommit cpu %.0f memory %.1f, record fsync %s%n",
                    o.jar(), port, cpuOvercommit, memoryOvercommit, o.fsync() ? "on" : "off");
            Path agentLog = state.resolve("agent.log");
            agent = new ProcessBuilder(cmd).redirectErrorStream(true).redirectOutput(agentLog.toFile()).start();
            try {
                awaitAgent(agentLog);
                return measure(cpuOvercommit, memoryOvercommit);
            } finally {
                stopAgent();
                deleteTree(state);
            }
        }

        private int measure(double cpuOvercommit, double memoryOvercommit) throws Exception {
            // One sandbox created and deleted before measuring: the first request pays class loading.
            String warm = create("warm-up").path("id").asText();
            awaitRunning(List.of(warm));
            call("DELETE", "/api/v1/sandboxes/" + warm, null);

            System.gc();
            Map<String, Long> mem0 = meminfo();
            long rss0 = agentStatus("VmRSS");
            long kernel0 = kernelKib(mem0);
            List<Checkpoint> checkpoints = new ArrayList<>();
            long[] createNanos = new long[o.count()];
            String[] ids = new String[o.count()];
            AtomicInteger next = new AtomicInteger();
            long begin = System.nanoTime();
            int perStep = (int) Math.ceil((double) o.count() / o.steps());
            ExecutorService pool = Executors.newFixedThreadPool(o.concurrency());
            try {
                for (int stepEnd = perStep; ; stepEnd = Math.min(o.count(), stepEnd + perStep)) {
                    int end = stepEnd;
                    List<Future<?>> work = new ArrayList<>();
                    for (int t = 0; t < o.concurrency(); t++) {
                        work.add(pool.submit(() -> {
                            for (int i = next.getAndIncrement(); i < end; i = next.getAndIncrement()) {
                                long t0 = System.nanoTime();
                                ids[i] = create(String.format("d%06d", i)).path("id").asText();
                                createNanos[i] = System.nanoTime() - t0;
                            }
                            return null;
                        }));
                    }
                    for (Future<?> f : work) {
                        f.get();
                    }
                    next.set(end);
                    double seconds = (System.nanoTime() - begin) / 1e9;
                    Map<String, Long> m = meminfo();
                    long rss = agentStatus("VmRSS");
                    fullGc();
                    JsonNode node = call("GET", "/api/v1/node", null);
                    Checkpoint c = new Checkpoint(end, seconds, mem0.get("MemAvailable") - m.get("MemAvailable"),
                            rss - rss0, kernelKib(m) - kernel0, node.path("jvm").path("heapUsedBytes").asLong(),
                            node.path("jvm").path("threads").asInt(), (int) agentStatus("Threads"));
                    checkpoints.add(c);
                    out.printf(Locale.ROOT, "density: %5d sandboxes at %6.1f s: per VM %6.1f KiB MemAvailable, %6.1f KiB agent RSS,"
                                    + " %6.1f KiB kernel; agent heap %5.1f MiB live, %d JVM threads (%d tasks)%n",
                            end, seconds, (double) c.memAvailableDropKib() / end, (double) c.agentRssKib() / end,
                            (double) c.kernelKib() / end, c.heapUsedBytes() / 1048576.0, c.agentThreads(), c.osThreads());
                    if (end == o.count()) {
                        break;
                    }
                }
            } finally {
                pool.shutdownNow();
            }
            double createSeconds = (System.nanoTime() - begin) / 1e9;
            awaitRunning(Arrays.asList(ids));
            double allRunningSeconds = (System.nanoTime() - begin) / 1e9;

            JsonNode list = call("GET", "/api/v1/sandboxes", null).path("sandboxes");
            Map<String, Long> bootById = new java.util.HashMap<>();
            int running = 0;
            for (JsonNode s : list) {
                if (s.path("state").asText().equals("RUNNING")) {
                    running++;
                }
                if (s.hasNonNull("bootTimeMillis")) {
                    bootById.put(s.path("id").asText(), s.path("bootTimeMillis").asLong());
                }
            }
            double[] boot = new double[o.count()];
            for (int i = 0; i < o.count(); i++) {
                boot[i] = bootById.getOrDefault(ids[i], -1L);
            }
            double[] createMs = Arrays.stream(createNanos).mapToDouble(n -> n / 1e6).toArray();
            Checkpoint last = checkpoints.getLast();
            JsonNode node = call("GET", "/api/v1/node", null);

            long deleteBegin = System.nanoTime();
            ExecutorService deleters = Executors.newFixedThreadPool(o.concurrency());
            List<Future<?>> deletes = new ArrayList<>();
            for (String id : ids) {
                deletes.add(deleters.submit(() -> call("DELETE", "/api/v1/sandboxes/" + id, null)));
            }
            for (Future<?> f : deletes) {
                f.get();
            }
            deleters.shutdown();
            double deleteSeconds = (System.nanoTime() - deleteBegin) / 1e9;

            double rate = o.count() / createSeconds;
            out.printf(Locale.ROOT, "%ndensity: %d tiny-guest sandboxes through the node agent's API (%d client threads)%n",
                    o.count(), o.concurrency());
            out.printf(Locale.ROOT, "  all running:               %d of %d (after %.1f s)%n", running, o.count(), allRunningSeconds);
            out.printf(Locale.ROOT, "  creation rate:             %.1f sandboxes/s (API 201s)%n", rate);
            out.printf(Locale.ROOT, "  boot time (start request to guest boot-timer write): p50 %.2f ms, p99 %.2f ms, max %.2f ms%n",
                    pct(boot, 50), pct(boot, 99), pct(boot, 100));
            out.printf(Locale.ROOT, "  API create latency:        p50 %.2f ms, p99 %.2f ms%n", pct(createMs, 50), pct(createMs, 99));
            out.printf(Locale.ROOT, "  host memory per VM:        %.1f KiB MemAvailable fall, %.1f KiB agent RSS, %.1f KiB kernel (slab, stacks, page tables)%n",
                    (double) last.memAvailableDropKib() / o.count(), (double) last.agentRssKib() / o.count(),
                    (double) last.kernelKib() / o.count());
            out.printf(Locale.ROOT, "  agent at %d VMs:          heap %.1f MiB live after GC, %d JVM threads, %d OS tasks"
                            + " (incl. one KVM kernel worker per VM), RSS %.1f MiB%n", o.count(),
                    last.heapUsedBytes() / 1048576.0, last.agentThreads(), last.osThreads(), agentStatus("VmRSS") / 1024.0);
            out.printf(Locale.ROOT, "  delete rate:               %.1f sandboxes/s%n", o.count() / deleteSeconds);

            ObjectNode result = JSON.createObjectNode();
            result.put("benchmark", "density");
            result.put("date", Instant.now().toString());
            result.put("count", o.count());
            result.put("concurrency", o.concurrency());
            result.put("cpu_overcommit", cpuOvercommit);
            result.put("memory_overcommit", memoryOvercommit);
            result.put("record_fsync", o.fsync());
            result.put("running", running);
            result.put("creation_rate_per_s", rate);
            result.put("all_running_seconds", allRunningSeconds);
            result.put("boot_ms_p50", pct(boot, 50));
            result.put("boot_ms_p99", pct(boot, 99));
            result.put("create_latency_ms_p50", pct(createMs, 50));
            result.put("create_latency_ms_p99", pct(createMs, 99));
            result.put("memavailable_kib_per_vm", (double) last.memAvailableDropKib() / o.count());
            result.put("agent_rss_kib_per_vm", (double) last.agentRssKib() / o.count());
            result.put("kernel_kib_per_vm", (double) last.kernelKib() / o.count());
            result.put("agent_heap_used_mib", last.heapUsedBytes() / 1048576.0);
            result.put("agent_jvm_threads", last.agentThreads());
            result.put("agent_os_tasks", last.osThreads());
            result.put("delete_rate_per_s", o.count() / deleteSeconds);
            result.set("kvm", node.path("kvm"));
            ArrayNode cps = result.putArray("checkpoints");
            for (Checkpoint c : checkpoints) {
                cps.addPOJO(Map.of("count", c.count(), "seconds", c.seconds(), "memavailable_drop_kib", c.memAvailableDropKib(),
                        "agent_rss_kib", c.agentRssKib(), "kernel_kib", c.kernelKib(), "heap_used_bytes", c.heapUsedBytes(),
                        "agent_jvm_threads", c.agentThreads(), "agent_os_tasks", c.osThreads()));
            }
            if (o.json() != null) {
                JSON.writerWithDefaultPrettyPrinter().writeValue(o.json().toFile(), result);
                out.println("density: figures written to " + o.json());
            }
            if (o.html().toAbsolutePath().getParent() != null) {
                Files.createDirectories(o.html().toAbsolutePath().getParent());
            }
            Files.writeString(o.html(), DensityPlot.html(result, boot, checkpoints), StandardCharsets.UTF_8);
            out.println("density: plot written to " + o.html().toAbsolutePath());
            return running == o.count() ? 0 : 3;
        }

        private JsonNode create(String name) {
            return call("POST", "/api/v1/sandboxes", "{\"name\":\"" + name + "\",\"guest\":\"tiny\",\"memoryMiB\":16}");
        }

        private void awaitRunning(List<String> ids) throws InterruptedException {
            long deadline = System.nanoTime() + Duration.ofMinutes(5).toNanos();
            while (true) {
                JsonNode list = call("GET", "/api/v1/sandboxes?state=STARTING", null);
                if (list.path("count").asInt() == 0) {
                    return;
                }
                if (System.nanoTime() > deadline) {
                    throw new IllegalStateException(list.path("count").asInt() + " sandboxes still STARTING after 5 minutes");
                }
                Thread.sleep(100);
            }
        }

        private JsonNode call(String method, String path, String body) {
            HttpRequest.Builder b = HttpRequest.newBuilder(URI.create(base + path)).timeout(Duration.ofSeconds(60))
                    .header("Authorization", "Bearer " + TOKEN).header("Accept", "application/json");
            if (body != null) {
                b.header("Content-Type", "application/json").method(method, HttpRequest.BodyPublishers.ofString(body));
            } else {
                b.method(method, HttpRequest.BodyPublishers.noBody());
            }
            try {
                HttpResponse<String> r = http.send(b.build(), HttpResponse.BodyHandlers.ofString());
                if (r.statusCode() / 100 != 2) {
                    throw new IllegalStateException(method + " " + path + " answered HTTP " + r.statusCode() + ": " + r.body());
                }
                return r.body().isEmpty() ? JSON.createObjectNode() : JSON.readTree(r.body());
            } catch (IOException e) {
                throw new IllegalStateException(method + " " + path + " failed: " + e, e);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                throw new IllegalStateException("interrupted", e);
            }
        }

        private void awaitAgent(Path log) throws Exception {
            long deadline = System.nanoTime() + Duration.ofSeconds(120).toNanos();
            while (System.nanoTime() < deadline) {
                if (!agent.isAlive()) {
                    throw new IllegalStateException("the node agent exited with " + agent.exitValue() + ":\n" + Files.readString(log));
                }
                try {
                    HttpResponse<String> r = http.send(HttpRequest.newBuilder(URI.create(base + "/q/health/ready"))
                            .timeout(Duration.ofSeconds(2)).build(), HttpResponse.BodyHandlers.ofString());
                    if (r.statusCode() == 200) {
                        return;
                    }
                } catch (IOException e) {
                    // not listening yet
                }
                Thread.sleep(200);
            }
            throw new IllegalStateException("the node agent did not become ready within 120 s; log:\n" + Files.readString(log));
        }

        private void stopAgent() throws InterruptedException {
            if (agent != null && agent.isAlive()) {
                agent.destroy(); // SIGTERM: the agent stops its VMs and exits
                if (!agent.waitFor(60, TimeUnit.SECONDS)) {
                    out.println("density: the agent did not exit within 60 s of SIGTERM; killing it");
                    agent.destroyForcibly().waitFor();
                }
            }
        }

        /** A full GC in the agent, so that its heap figure is live data (jcmd ships with the JDK). */
        private void fullGc() throws IOException, InterruptedException {
            Process p = new ProcessBuilder(Path.of(System.getProperty("java.home"), "bin", "jcmd").toString(),
                    Long.toString(agent.pid()), "GC.run").redirectErrorStream(true).redirectOutput(ProcessBuilder.Redirect.DISCARD).start();
            if (!p.waitFor(30, TimeUnit.SECONDS)) {
                p.destroyForcibly();
            }
        }

        /** A field of /proc/<agent>/status in kB (VmRSS) or as a count (Threads). */
        private long agentStatus(String field) {
            try {
                for (String line : Files.readAllLines(Path.of("/proc", Long.toString(agent.pid()), "status"))) {
                    if (line.startsWith(field + ":")) {
                        return Long.parseLong(line.replaceAll("[^0-9]", ""));
                    }
                }
            } catch (IOException e) {
                throw new IllegalStateException("cannot read the agent's /proc status: " + e.getMessage(), e);
            }
            throw new IllegalStateException("no " + field + " in the agent's /proc status");
        }
    }

    static Map<String, Long> meminfo() throws IOException {
        Map<String, Long> m = new java.util.HashMap<>();
        for (String line : Files.readAllLines(Path.of("/proc/meminfo"))) {
            String[] kv = line.split(":\\s+");
            if (kv.length == 2) {
                m.put(kv[0], Long.parseLong(kv[1].replaceAll("[^0-9]", "")));
            }
        }
        return m;
    }

    static long kernelKib(Map<String, Long> m) {
        return m.getOrDefault("Slab", 0L) + m.getOrDefault("KernelStack", 0L) + m.getOrDefault("PageTables", 0L);
    }

    /** Nearest-rank percentile of the non-negative values; 100 is the maximum. */
    static double pct(double[] values, double p) {
        double[] v = Arrays.stream(values).filter(x -> x >= 0).sorted().toArray();
        if (v.length == 0) {
            return Double.NaN;
        }
        int rank = (int) Math.ceil(p / 100.0 * v.length);
        return v[Math.max(0, Math.min(v.length - 1, rank - 1))];
    }

    private static void deleteTree(Path dir) {
        try (var walk = Files.walk(dir)) {
            walk.sorted(java.util.Comparator.reverseOrder()).forEach(p -> p.toFile().delete());
        } catch (IOException e) {
            // a temporary directory: leftovers are harmless
        }
    }
}
