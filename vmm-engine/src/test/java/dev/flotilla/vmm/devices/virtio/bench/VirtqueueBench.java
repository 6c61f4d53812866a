package dev.flotilla.vmm.devices.virtio.bench;

import dev.flotilla.vmm.devices.virtio.VirtioFeatures;
import dev.flotilla.vmm.devices.virtio.queue.DescriptorChain;
import dev.flotilla.vmm.devices.virtio.queue.QueueConfig;
import dev.flotilla.vmm.devices.virtio.queue.Virtqueue;
import dev.flotilla.vmm.devices.virtio.testing.GuestDriver;
import dev.flotilla.vmm.memory.GuestMemory;
import dev.flotilla.vmm.memory.SegmentGuestMemory;

import java.io.IOException;
import java.lang.management.ManagementFactory;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;

import static dev.flotilla.vmm.devices.virtio.VirtioFeatures.bit;

/**
 * Throughput of the queue layer on one core: the Java guest driver posts a batch of one-buffer
 * requests, the device side pops every chain, walks its buffers, pushes it used, and ends the
 * pass with one finishBatch (one "notify?" decision); the driver then reaps the used ring and
 * re-enables notifications as Linux does. Split vs packed, with and without EVENT_IDX.
 *
 * <p>Reports, per configuration: requests/s for the whole loop (driver + device on one thread)
 * and for the device side alone (timed separately), bytes allocated per request on the thread
 * (com.sun.management.ThreadMXBean), and interrupts the device would send per request.
 *
 * <p>A second section runs driver and device on two threads ({@link ConcurrentRun}): there the
 * kicks and interrupts per request show what notification suppression saves (with the device
 * and driver in lock-step, as above, every configuration sees one kick and one interrupt per pass).
 *
 * <p>Each configuration runs in a fresh JVM (one warm-up round, then the measured round), so
 * these are single-layout figures; a VMM running both layouts at once sees bimorphic call sites.
 *
 * <pre>java -cp vmm-engine/target/classes:vmm-engine/target/test-classes \
 *     dev.flotilla.vmm.devices.virtio.bench.VirtqueueBench [--seconds N] [--batch N] [--queue-size N] [--forks N] [--json FILE]</pre>
 */
public final class VirtqueueBench {

    record Result(String layout, boolean eventIdx, int queueSize, int batch, long requests, double seconds,
                  double requestsPerSecond, double deviceRequestsPerSecond, double bytesAllocatedPerRequest,
                  double interruptsPerRequest, double kicksPerRequest) {}

    private static final long DATA = 0x10000;

    public static void main(String[] args) throws IOException {
        double seconds = 2;
        int batch = 32;
        int queueSize = 256;
        Path json = null;
        String single = null;
        String singleConcurrent = null;
        int forks = 3;
        for (int i = 0; i < args.length; i++) {
            switch (args[i]) {
                case "--single" -> single = args[++i];
                case "--single-concurrent" -> singleConcurrent = args[++i];
                case "--forks" -> forks = Integer.parseInt(args[++i]);
                case "--seconds" -> seconds = Double.parseDouble(args[++i]);
                case "--batch" -> batch = Integer.parseInt(args[++i]);
                case "--queue-size" -> queueSize = Integer.parseInt(args[++i]);
                case "--json" -> json = Path.of(args[++i]);
                default -> throw new IllegalArgumentException("unknown option " + args[i]
                        + " (options: --seconds N, --batch N, --queue-size N, --forks N, --json FILE)");
            }
        }
        if (batch > queueSize) {
            throw new IllegalArgumentException("batch %d is larger than the queue size %d".formatted(batch, queueSize));
        }
        if (singleConcurrent != null) {
            boolean packed = singleConcurrent.startsWith("packed");
            boolean eventIdx = singleConcurrent.endsWith("+event_idx");
            try {
                ConcurrentRun.run(packed, eventIdx, queueSize, Math.min(1.0, seconds / 2)); // warm-up
                ConcurrentRun.Outcome o = ConcurrentRun.run(packed, eventIdx, queueSize, seconds);
                System.out.println("RESULT " + o.requests() + " " + o.seconds() + " " + o.kicksPerRequest() + " "
                        + o.interruptsPerRequest() + " " + o.deviceBytesPerRequest());
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
            }
            return;
        }
        if (single != null) {
            // Child JVM: one configuration, result as one line for the parent.
            boolean packed = single.startsWith("packed");
            boolean eventIdx = single.endsWith("+event_idx");
            run(packed, eventIdx, queueSize, batch, Math.min(1.0, seconds / 2)); // warm-up: JIT
            Result r = run(packed, eventIdx, queueSize, batch, seconds);
            System.out.println("RESULT " + r.requests() + " " + r.seconds() + " " + r.requestsPerSecond() + " "
                    + r.deviceRequestsPerSecond() + " " + r.bytesAllocatedPerRequest() + " " + r.interruptsPerRequest()
                    + " " + r.kicksPerRequest());
            return;
        }
        // Each configuration in its own JVM, as JMH forks: otherwise the JIT profile of the
        // configurations run first (call sites seen with one ring layout) skews the later ones.
        // Several forks per configuration, round-robin so background load spreads over all of
        // them; the best fork is the least disturbed measurement of the code itself.
        List<String> configs = List.of("split", "split+event_idx", "packed", "packed+event_idx");
        List<List<Result>> runs = new ArrayList<>();
        configs.forEach(c -> runs.add(new ArrayList<>()));
        for (int f = 0; f < forks; f++) {
            for (int c = 0; c < configs.size(); c++) {
                runs.get(c).add(fork(configs.get(c), seconds, batch, queueSize));
            }
        }
        List<String[]> concurrent = new ArrayList<>();
        for (String config : configs) {
            concurrent.add(forkLines(config, "--single-concurrent", seconds, batch, queueSize));
        }
        List<Result> results = new ArrayList<>();
        List<Double> medians = new ArrayList<>();
        for (List<Result> r : runs) {
            List<Result> sorted = r.stream().sorted(java.util.Comparator.comparingDouble(Result::requestsPerSecond)).toList();
            results.add(sorted.getLast());
            medians.add(sorted.get(sorted.size() / 2).requestsPerSecond());
        }
        System.out.printf(Locale.ROOT, "virtqueue bench: queue size %d, %d requests per pass, one thread, best of %d forks (JDK %s, %d CPUs, load average %.1f)%n",
                queueSize, batch, forks, Runtime.version(), Runtime.getRuntime().availableProcessors(),
                ManagementFactory.getOperatingSystemMXBean().getSystemLoadAverage());
        System.out.printf(Locale.ROOT, "%-7s %-9s %14s %14s %16s %12s %10s %10s%n",
                "layout", "event_idx", "requests/s", "median req/s", "device-only/s", "bytes/req", "irqs/req", "kicks/req");
        for (int i = 0; i < results.size(); i++) {
            Result r = results.get(i);
            System.out.printf(Locale.ROOT, "%-7s %-9s %,14.0f %,14.0f %,16.0f %12.3f %10.4f %10.4f%n", r.layout(), r.eventIdx(),
                    r.requestsPerSecond(), medians.get(i), r.deviceRequestsPerSecond(), r.bytesAllocatedPerRequest(),
                    r.interruptsPerRequest(), r.kicksPerRequest());
        }
        System.out.printf(Locale.ROOT, "%nconcurrent: driver and device on two threads, device sleeps until kicked, driver until interrupted%n");
        System.out.printf(Locale.ROOT, "%-7s %-9s %14s %12s %12s %16s%n", "layout", "event_idx", "requests/s", "kicks/req", "irqs/req", "device bytes/req");
        for (int i = 0; i < configs.size(); i++) {
            String[] f = concurrent.get(i);
            System.out.printf(Locale.ROOT, "%-7s %-9s %,14.0f %12.4f %12.4f %16.3f%n", results.get(i).layout(), results.get(i).eventIdx(),
                    Long.parseLong(f[1]) / Double.parseDouble(f[2]), Double.parseDouble(f[3]), Double.parseDouble(f[4]), Double.parseDouble(f[5]));
        }
        if (json != null) {
            Files.writeString(json, toJson(results, medians, forks, concurrent));
            System.out.println("wrote " + json.toAbsolutePath());
        }
    }

    private static Result fork(String config, double seconds, int batch, int queueSize) throws IOException {
        String[] f = forkLines(config, "--single", seconds, batch, queueSize);
        return new Result(config.startsWith("packed") ? "packed" : "split", config.endsWith("+event_idx"), queueSize, batch,
                Long.parseLong(f[1]), Double.parseDouble(f[2]), Double.parseDouble(f[3]), Double.parseDouble(f[4]),
                Double.parseDouble(f[5]), Double.parseDouble(f[6]), Double.parseDouble(f[7]));
    }

    /** Runs one configuration in a fresh JVM; returns its RESULT line split on spaces. */
    private static String[] forkLines(String config, String mode, double seconds, int batch, int queueSize) throws IOException {
        String java = ProcessHandle.current().info().command().orElse("java");
        List<String> command = List.of(java, "-cp", System.getProperty("java.class.path"), VirtqueueBench.class.getName(),
                mode, config, "--seconds", Double.toString(seconds), "--batch", Integer.toString(batch),
                "--queue-size", Integer.toString(queueSize));
        Process process = new ProcessBuilder(command).redirectErrorStream(true).start();
        String output = new String(process.getInputStream().readAllBytes());
        try {
            if (process.waitFor() != 0) {
                throw new IOException("benchmark fork for " + config + " failed:\n" + output);
            }
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new IOException("interrupted while running " + config, e);
        }
        String line = output.lines().filter(l -> l.startsWith("RESULT ")).findFirst()
                .orElseThrow(() -> new IOException("benchmark fork for " + config + " printed no result:\n" + output));
        return line.split(" ");
    }

    static Result run(boolean packed, boolean eventIdx, int queueSize, int batch, double seconds) {
        GuestMemory memory = SegmentGuestMemory.ofHeap(4 << 20);
        GuestDriver driver = packed
                ? GuestDriver.packed(memory, 0x1000, queueSize, eventIdx)
                : GuestDriver.split(memory, 0x1000, queueSize, eventIdx);
        long features = bit(VirtioFeatures.VERSION_1) | (packed ? bit(VirtioFeatures.RING_PACKED) : 0)
                | (eventIdx ? bit(VirtioFeatures.EVENT_IDX) : 0);
        Virtqueue queue;
        try {
            queue = driver.configure(new QueueConfig(queueSize)).activate(memory, features, "bench.q0");
        } catch (Exception e) {
            throw new IllegalStateException(e);
        }
        driver.enableUsedNotifications();
        com.sun.management.ThreadMXBean threads = (com.sun.management.ThreadMXBean) ManagementFactory.getThreadMXBean();
        long thread = Thread.currentThread().threadId();

        long requests = 0;
        long interrupts = 0;
        long kicks = 0;
        long deviceNanos = 0;
        long sink = 0;
        long allocatedBefore = threads.getThreadAllocatedBytes(thread);
        long start = System.nanoTime();
        long deadline = start + (long) (seconds * 1e9);
        long now = start;
        while (now < deadline) {
            for (int round = 0; round < 64; round++) {
                for (int i = 0; i < batch; i++) {
                    driver.add(DATA + 4096L * i, 4096, true);
                }
                if (driver.kickNeeded()) {
                    kicks++;
                }
                long t0 = System.nanoTime();
                // --- device side: one event-loop pass ---
                DescriptorChain chain;
                while ((chain = queue.pop()) != null) {
                    for (int b = 0; b < chain.count(); b++) {
                        sink += chain.address(b) + chain.length(b);
                    }
                    queue.pushUsed(chain, 64);
                }
                if (queue.finishBatch()) {
                    interrupts++;
                }
                deviceNanos += System.nanoTime() - t0;
                // --- driver side: interrupt handler reaps the used ring ---
                while (driver.pollUsed()) {
                    requests++;
                }
                driver.enableUsedNotifications();
            }
            now = System.nanoTime();
        }
        long allocated = threads.getThreadAllocatedBytes(thread) - allocatedBefore;
        double elapsed = (now - start) / 1e9;
        if (sink == 42) {
            System.out.println(); // keeps the buffer walk from being optimised away
        }
        return new Result(packed ? "packed" : "split", eventIdx, queueSize, batch, requests, elapsed,
                requests / elapsed, requests / (deviceNanos / 1e9), (double) allocated / requests,
                (double) interrupts / requests, (double) kicks / requests);
    }

    private static String toJson(List<Result> results, List<Double> medians, int forks, List<String[]> concurrent) {
        StringBuilder sb = new StringBuilder("{\n  \"benchmark\": \"virtqueue\",\n  \"jdk\": \"")
                .append(Runtime.version()).append("\",\n  \"cpus\": ").append(Runtime.getRuntime().availableProcessors())
                .append(",\n  \"forks\": ").append(forks)
                .append(",\n  \"note\": \"best fork per configuration; medianRequestsPerSecond over all forks\"")
                .append(",\n  \"results\": [\n");
        for (int i = 0; i < results.size(); i++) {
            Result r = results.get(i);
            sb.append(String.format(Locale.ROOT,
                    "    {\"layout\": \"%s\", \"eventIdx\": %s, \"queueSize\": %d, \"batch\": %d, \"requests\": %d, \"seconds\": %.3f, "
                            + "\"requestsPerSecond\": %.0f, \"deviceRequestsPerSecond\": %.0f, \"bytesAllocatedPerRequest\": %.4f, "
                            + "\"interruptsPerRequest\": %.5f, \"kicksPerRequest\": %.5f, \"medianRequestsPerSecond\": %.0f}%s%n",
                    r.layout(), r.eventIdx(), r.queueSize(), r.batch(), r.requests(), r.seconds(), r.requestsPerSecond(),
                    r.deviceRequestsPerSecond(), r.bytesAllocatedPerRequest(), r.interruptsPerRequest(), r.kicksPerRequest(),
                    medians.get(i), i + 1 < results.size() ? "," : ""));
        }
        sb.append("  ],\n  \"concurrent\": [\n");
        for (int i = 0; i < concurrent.size(); i++) {
            String[] f = concurrent.get(i);
            sb.append(String.format(Locale.ROOT,
                    "    {\"layout\": \"%s\", \"eventIdx\": %s, \"requests\": %s, \"seconds\": %s, \"requestsPerSecond\": %.0f, "
                            + "\"kicksPerRequest\": %.5f, \"interruptsPerRequest\": %.5f, \"deviceBytesAllocatedPerRequest\": %.4f}%s%n",
                    results.get(i).layout(), results.get(i).eventIdx(), f[1], f[2], Long.parseLong(f[1]) / Double.parseDouble(f[2]),
                    Double.parseDouble(f[3]), Double.parseDouble(f[4]), Double.parseDouble(f[5]), i + 1 < concurrent.size() ? "," : ""));
        }
        return sb.append("  ]\n}\n").toString();
    }
}
