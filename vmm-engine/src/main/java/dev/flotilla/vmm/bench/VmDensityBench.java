package dev.flotilla.vmm.bench;

import dev.flotilla.vmm.MicroVm;
import dev.flotilla.vmm.VmConfig;
import dev.flotilla.vmm.VmException;
import dev.flotilla.vmm.sys.Libc;

import java.io.IOException;
import java.io.OutputStream;
import java.io.PrintStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.LocalDate;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Optional;

/**
 * {@code bench vm-density}: rounds of {@code count} VMs, each round a fresh JVM ({@link #round}) that
 * creates and starts its VMs one after the other through {@link MicroVm#create} with a tiny guest
 * ({@link FlatGuestLoader#BOOT_TIMER_THEN_HALT}) and keeps them all alive (their vCPUs wait in the
 * guest's HLT inside KVM) until every guest has written the boot timer; alternating with rounds of
 * the raw-ioctl C baseline, which does per VM what the engine must for a Linux guest (irqchip and
 * PIT) and likewise keeps every guest running, halted inside KVM_RUN on a vCPU thread of its own
 * (smallest stack glibc allows), until all have signalled; the ratios are those of the medians.
 *
 * <p>In a round, one VM is created, run and closed before the clock starts: the rate is that of a
 * running VMM process, not of the JVM's first FFM linking. Memory per VM, measured as the baseline
 * measures it, across the timed part, each reading after a full GC, divided by the count: the fall
 * in MemAvailable, the rise in VmRSS, and the rise in the kernel's Slab + KernelStack + PageTables
 * + VmallocUsed. Guest RAM is mapped with MAP_NORESERVE and the guest touches one page of it, as
 * the baseline's does, so guest RAM size enters neither side.
 */
public final class VmDensityBench {

    public record Options(int count, long memoryKib, int rounds, Optional<Path> json) {
        public Options {
            if (count < 1 || rounds < 1) {
                throw new IllegalArgumentException("--count and --rounds must be at least 1");
            }
            if (memoryKib % 1024 != 0 || memoryKib / 1024 < VmConfig.MIN_MEMORY_MIB) {
                throw new IllegalArgumentException("--memory-kib must be a multiple of 1024 and at least %d, not %d"
                        .formatted(VmConfig.MIN_MEMORY_MIB * 1024, memoryKib));
            }
        }
    }

    /** Per VM: the VM fd and the vCPU fd (the /dev/kvm fd is shared), plus room for the JVM's own. */
    private static final int FDS_PER_VM = 2;
    private static final int FDS_SPARE = 512;
    private static final int CLOSE_SAMPLE = 50;
    private static final long GUEST_SIGNAL_TIMEOUT_NANOS = 10_000_000_000L;

    private static final java.util.logging.Logger QUIET = java.util.logging.Logger.getLogger(MicroVm.class.getName());

    private VmDensityBench() {}

    public static int run(Options options, PrintStream out) throws IOException, InterruptedException, VmException {
        // Checked here too, so that a too-low hard limit fails before any round runs.
        String limit = raiseOpenFileLimit((long) options.count() * FDS_PER_VM + FDS_SPARE);
        out.println("vm-density: " + options.count() + " VMs, " + options.memoryKib() + " KiB guest RAM each; " + limit
                + " (each round's process raises its own soft limit the same way)");

        Path baseline = RawBaseline.build();
        List<String> ourRound = List.of(Path.of(System.getProperty("java.home"), "bin", "java").toString(),
                "--enable-native-access=ALL-UNNAMED", "-cp", System.getProperty("java.class.path"),
                "dev.flotilla.vmm.cli.Main", "bench", "vm-density-round", "--count", Integer.toString(options.count()),
                "--memory-kib", Long.toString(options.memoryKib()));
        // "threads": the baseline keeps each guest running on a vCPU thread, as the engine does (see
        // the baseline's source and SPECIFICATION.md for why that is the fair comparison).
        List<String> rawRound = List.of(baseline.toString(), Integer.toString(options.count()),
                Long.toString(options.memoryKib()), "threads");
        List<Map<String, Double>> ours = new ArrayList<>();
        List<Map<String, Double>> raw = new ArrayList<>();
        for (int r = 1; r <= options.rounds(); r++) {
            // Each round is a fresh process on both sides, alternating: MemAvailable and the kernel
            // counters are host-wide, and other processes' churn is noise both sides then share.
            Map<String, Double> o = KeyValues.runProcess(ourRound, "the flotilla round");
            ours.add(o);
            out.printf(Locale.ROOT, "vm-density: round %d flotilla: %6.1f VMs/s, per VM %6.1f KiB MemAvailable, %6.1f KiB kernel,"
                            + " %6.1f KiB RSS (create %.2f ms, start %.2f ms, close %.1f ms)%n",
                    r, o.get("rate"), o.get("host_kib_per_vm"), o.get("kernel_kib_per_vm"), o.get("rss_kib_per_vm"),
                    o.get("create_ms_per_vm"), o.get("start_ms_per_vm"), o.get("close_ms_per_vm"));
            Map<String, Double> b = KeyValues.runProcess(rawRound, "the raw C baseline");
            raw.add(b);
            out.printf(Locale.ROOT, "vm-density: round %d raw C:    %6.1f VMs/s, per VM %6.1f KiB MemAvailable, %6.1f KiB kernel,"
                            + " %6.1f KiB RSS%n",
                    r, b.get("rate"), b.get("host_kib_per_vm"), b.get("kernel_kib_per_vm"), b.get("rss_kib_per_vm"));
        }
        Map<String, Double> o = medians(ours);
        Map<String, Double> b = medians(raw);
        double rateRatio = o.get("rate") / b.get("rate");
        double hostRatio = o.get("host_kib_per_vm") / b.get("host_kib_per_vm");
        double ourSum = o.get("kernel_kib_per_vm") + o.get("rss_kib_per_vm");
        double rawSum = b.get("kernel_kib_per_vm") + b.get("rss_kib_per_vm");
        double sumRatio = ourSum / rawSum;
        boolean rateMet = rateRatio >= 0.7;
        boolean memoryMet = hostRatio <= 1.25 && sumRatio <= 1.25;

        out.printf(Locale.ROOT, "%nvm-density: medians over %d round(s) of %d VMs (guest RAM %d KiB each, one page of it touched)%n",
                options.rounds(), options.count(), options.memoryKib());
        out.printf(Locale.ROOT, "%-44s %10s %10s %7s%n", "", "flotilla", "raw C", "ratio");
        out.printf(Locale.ROOT, "%-44s %10.1f %10.1f %7.2f   (goal >= 0.70: %s)%n", "creation rate (VMs/s)",
                o.get("rate"), b.get("rate"), rateRatio, rateMet ? "met" : "NOT met");
        out.printf(Locale.ROOT, "%-44s %10.1f %10.1f %7.2f   (goal <= 1.25: %s)%n",
                "host memory per VM, MemAvailable fall (KiB)", o.get("host_kib_per_vm"), b.get("host_kib_per_vm"),
                hostRatio, hostRatio <= 1.25 ? "met" : "NOT met");
        out.printf(Locale.ROOT, "%-44s %10.1f %10.1f %7.2f   (goal <= 1.25: %s)%n",
                "host memory per VM, kernel + RSS rise (KiB)", ourSum, rawSum, sumRatio, sumRatio <= 1.25 ? "met" : "NOT met");
        out.printf(Locale.ROOT, "%-44s %10.1f %10.1f%n", "  of which kernel (slab, stacks, page tables)",
                o.get("kernel_kib_per_vm"), b.get("kernel_kib_per_vm"));
        out.printf(Locale.ROOT, "%-44s %10.1f %10.1f%n", "  of which process RSS", o.get("rss_kib_per_vm"), b.get("rss_kib_per_vm"));
        out.println("vm-density: MemAvailable is host-wide: on a busy host other processes move it by more than"
                + " these VMs do; the kernel + RSS figure is the steadier one.");

        if (options.json().isPresent()) {
            Map<String, Object> json = new LinkedHashMap<>();
            json.put("benchmark", "vm-density");
            json.put("date", LocalDate.now().toString());
            json.put("count", options.count());
            json.put("rounds", options.rounds());
            json.put("guest_memory_kib", options.memoryKib());
            json.put("open_file_limit", limit);
            json.put("flotilla_median", o);
            json.put("raw_c_median", b);
            json.put("rate_ratio", rateRatio);
            json.put("memavailable_ratio", hostRatio);
            json.put("kernel_plus_rss_ratio", sumRatio);
            json.put("goals_met", rateMet && memoryMet);
            json.put("flotilla_rounds", ours);
            json.put("raw_c_rounds", raw);
            Json.write(options.json().get(), json);
            out.println("vm-density: figures written to " + options.json().get());
        }
        return rateMet && memoryMet ? 0 : 3;
    }

    /**
     * One round in this process: {@code count} VMs created and started, all kept alive until every
     * guest has signalled; prints one line of key=value pairs, as the baseline does.
     */
    public static int round(int count, long memoryKib, PrintStream out)
            throws IOException, InterruptedException, VmException {
        raiseOpenFileLimit((long) count * FDS_PER_VM + FDS_SPARE);
        Path image = Files.createDirectories(EngineFiles.targetDir()).resolve("tiny-guest-boot-timer.bin");
        Files.write(image, FlatGuestLoader.BOOT_TIMER_THEN_HALT);
        VmConfig config = VmConfig.builder().kernel(image).memoryMib((int) (memoryKib / 1024))
                .cmdline("").consoleOutput(OutputStream.nullOutputStream()).build();
        FlatGuestLoader loader = new FlatGuestLoader();
        // A thousand "VM ended: stopped by host" lines would bury the figures.
        QUIET.setLevel(java.util.logging.Level.WARNING);
        // Warm-up: link every downcall and load every class once.
        try (MicroVm warm = MicroVm.create(config, loader)) {
            warm.start();
            awaitGuestSignal(warm, -1);
        }

        List<MicroVm> vms = new ArrayList<>(count);
        try {
            long[] before = HostMemory.settled();
            com.sun.management.ThreadMXBean threadBean =
                    (com.sun.management.ThreadMXBean) java.lang.management.ManagementFactory.getThreadMXBean();
            long allocatedBefore = threadBean.getCurrentThreadAllocatedBytes();
            long begin = System.nanoTime();
            long createNanos = 0;
            long startNanos = 0;
            for (int i = 0; i < count; i++) {
                long t0 = System.nanoTime();
                MicroVm vm = MicroVm.create(config, loader);
                vms.add(vm);
                long t1 = System.nanoTime();
                vm.start();
                createNanos += t1 - t0;
                startNanos += System.nanoTime() - t1;
            }
            for (int i = 0; i < count; i++) {
                awaitGuestSignal(vms.get(i), i);
            }
            double seconds = (System.nanoTime() - begin) / 1e9;
            double allocatedKib = (threadBean.getCurrentThreadAllocatedBytes() - allocatedBefore) / 1024.0 / count;
            long[] after = HostMemory.settled();
            long running = vms.stream().filter(v -> v.state() == MicroVm.State.RUNNING).count();
            if (running != vms.size()) {
                throw new IllegalStateException(vms.size() - running + " of the VMs ended before the end of the bench");
            }
            int threads = Thread.activeCount();
            // For inspecting the live VMs from outside (jcmd VM.native_memory, /proc/PID/smaps).
            Thread.sleep(Long.getLong("flotilla.bench.holdMillis", 0));
            // Closing is timed on a sample only: the process exits right after (the kernel then
            // releases the rest, as it does for the baseline).
            int sample = Math.min(CLOSE_SAMPLE, vms.size());
            long closeBegin = System.nanoTime();
            closeAll(vms.subList(0, sample));
            double closeMs = (System.nanoTime() - closeBegin) / 1e6 / Math.max(1, sample);
            out.printf(Locale.ROOT, "count=%d seconds=%.3f rate=%.1f host_kib_per_vm=%.1f rss_kib_per_vm=%.1f"
                            + " kernel_kib_per_vm=%.1f create_ms_per_vm=%.3f start_ms_per_vm=%.3f threads=%d close_ms_per_vm=%.2f"
                            + " heap_allocated_kib_per_vm=%.1f%n",
                    count, seconds, count / seconds, (double) (before[0] - after[0]) / count,
                    (double) (after[1] - before[1]) / count, (double) (after[2] - before[2]) / count,
                    createNanos / 1e6 / count, startNanos / 1e6 / count, threads, closeMs, allocatedKib);
            return 0;
        } catch (RuntimeException | VmException | InterruptedException e) {
            closeAll(vms);
            throw e;
        }
    }

    private static Map<String, Double> medians(List<Map<String, Double>> rounds) {
        Map<String, Double> m = new LinkedHashMap<>();
        for (String key : rounds.getFirst().keySet()) {
            m.put(key, median(rounds.stream().map(r -> r.getOrDefault(key, Double.NaN)).toList()));
        }
        return m;
    }

    private static double median(List<Double> values) {
        double[] v = values.stream().mapToDouble(Double::doubleValue).sorted().toArray();
        return v.length % 2 == 1 ? v[v.length / 2] : (v[v.length / 2 - 1] + v[v.length / 2]) / 2;
    }

    private static void awaitGuestSignal(MicroVm vm, int index) throws InterruptedException {
        long deadline = System.nanoTime() + GUEST_SIGNAL_TIMEOUT_NANOS;
        while (vm.bootTimeNanos().isEmpty()) {
            if (vm.awaitExit(java.time.Duration.ZERO).isPresent()) {
                throw new IllegalStateException("tiny-guest VM " + (index < 0 ? "(warm-up)" : index)
                        + " ended before signalling: " + vm.awaitExit().describe());
            }
            if (System.nanoTime() > deadline) {
                throw new IllegalStateException("tiny-guest VM " + index + " did not write the boot timer within 10 s");
            }
            Thread.onSpinWait();
            Thread.yield();
        }
    }

    private static void closeAll(List<MicroVm> vms) {
        for (MicroVm vm : vms) {
            vm.close();
        }
    }

    /**
     * Raises this process's soft RLIMIT_NOFILE towards {@code needed} (up to the hard limit) and
     * says which limit is in force; fails when even the hard limit is too low.
     */
    static String raiseOpenFileLimit(long needed) {
        long[] limit = Libc.getrlimit(Libc.RLIMIT_NOFILE);
        long soft = limit[0];
        long hard = limit[1];
        boolean unlimitedHard = hard < 0;
        if (soft >= 0 && soft < needed) {
            long target = unlimitedHard ? needed : Math.min(needed, hard);
            Libc.setrlimit(Libc.RLIMIT_NOFILE, target, hard);
            soft = target;
        }
        if (soft >= 0 && soft < needed) {
            throw new IllegalStateException("this needs about %d open files, but the hard limit (ulimit -Hn) is %d"
                    .formatted(needed, hard));
        }
        return "open-file limit (RLIMIT_NOFILE) soft %s, hard %s, about %d needed".formatted(
                soft < 0 ? "unlimited" : Long.toString(soft), unlimitedHard ? "unlimited" : Long.toString(hard), needed);
    }
}
