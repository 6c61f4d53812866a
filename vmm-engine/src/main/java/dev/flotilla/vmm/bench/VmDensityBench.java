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
 * {@code bench vm-density}: creates and starts {@code count} VMs in this JVM, one after the other,
 * through {@link MicroVm#create} with a tiny guest ({@link FlatGuestLoader#BOOT_TIMER_THEN_HALT}),
 * and keeps them all alive (their vCPUs wait in the guest's HLT inside KVM) until the end. The
 * clock stops once every guest has written the boot timer (the baseline runs each guest to its
 * port write before creating the next; here a guest runs on its own vCPU thread while the next VM
 * is built, as a VMM starting many VMs would do). Then the same count with the raw-ioctl C
 * baseline, alternating rounds, and the ratios of the medians.
 *
 * <p>One VM is created, run and closed before the timed part: the rate is that of a running VMM
 * process, not of the JVM's first FFM linking. Memory per VM is the fall in MemAvailable and the
 * rise in VmRSS across the timed part, each after a full GC, divided by the count. Guest RAM is
 * mapped with MAP_NORESERVE and the guest touches one page of it, as the baseline's does, so guest
 * RAM size does not enter either figure.
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
    private static final long GUEST_SIGNAL_TIMEOUT_NANOS = 10_000_000_000L;

    private static final java.util.logging.Logger QUIET = java.util.logging.Logger.getLogger(MicroVm.class.getName());

    private VmDensityBench() {}

    public static int run(Options options, PrintStream out) throws IOException, InterruptedException, VmException {
        String limit = raiseOpenFileLimit(options.count() * FDS_PER_VM + FDS_SPARE);
        out.println("vm-density: " + options.count() + " VMs, " + options.memoryKib() + " KiB guest RAM each; " + limit);

        Path image = Files.createDirectories(EngineFiles.targetDir()).resolve("tiny-guest-boot-timer.bin");
        Files.write(image, FlatGuestLoader.BOOT_TIMER_THEN_HALT);
        VmConfig config = VmConfig.builder().kernel(image).memoryMib((int) (options.memoryKib() / 1024))
                .cmdline("").consoleOutput(OutputStream.nullOutputStream()).build();
        FlatGuestLoader loader = new FlatGuestLoader();
        // A thousand "VM ended: stopped by host" lines would bury the figures.
        QUIET.setLevel(java.util.logging.Level.WARNING);

        // Warm-up: link every downcall and load every class once.
        try (MicroVm warm = MicroVm.create(config, loader)) {
            warm.start();
            awaitGuestSignal(warm, -1);
        }

        Path baseline = RawBaseline.build();
        List<Round> ours = new ArrayList<>();
        List<RawBaseline.Result> raw = new ArrayList<>();
        for (int r = 1; r <= options.rounds(); r++) {
            // Alternating rounds: MemAvailable is host-wide, and other processes' churn is noise both sides share.
            Round round = flotillaRound(config, loader, options.count());
            ours.add(round);
            out.printf(Locale.ROOT, "vm-density: round %d flotilla: %.1f VMs/s, %.1f KiB/VM (MemAvailable), %.1f KiB/VM (RSS);"
                            + " per VM: create %.2f ms, start %.2f ms; then all guests signalled in %.0f ms; closing took %.2f s%n",
                    r, round.rate(), round.hostKib(), round.rssKib(), round.createMs(), round.startMs(), round.guestMs(),
                    round.closeSeconds());
            RawBaseline.Result base = RawBaseline.run(baseline, options.count(), options.memoryKib());
            raw.add(base);
            out.printf(Locale.ROOT, "vm-density: round %d raw C:    %.1f VMs/s, %.1f KiB/VM (MemAvailable), %.1f KiB/VM (RSS)%n",
                    r, base.rate(), base.hostKibPerVm(), base.rssKibPerVm());
        }
        double rate = median(ours.stream().map(Round::rate).toList());
        double hostKib = median(ours.stream().map(Round::hostKib).toList());
        double rssKib = median(ours.stream().map(Round::rssKib).toList());
        double baseRate = median(raw.stream().map(RawBaseline.Result::rate).toList());
        double baseHostKib = median(raw.stream().map(RawBaseline.Result::hostKibPerVm).toList());
        double baseRssKib = median(raw.stream().map(RawBaseline.Result::rssKibPerVm).toList());
        double rateRatio = rate / baseRate;
        double hostRatio = hostKib / baseHostKib;
        double rssRatio = baseRssKib > 0 ? rssKib / baseRssKib : Double.NaN;
        boolean met = rateRatio >= 0.7 && hostRatio <= 1.25;

        out.printf(Locale.ROOT, "%nvm-density: medians over %d round(s) of %d VMs%n", options.rounds(), options.count());
        out.printf(Locale.ROOT, "%-40s %10s %10s %7s%n", "", "flotilla", "raw C", "ratio");
        out.printf(Locale.ROOT, "%-40s %10.1f %10.1f %7.2f   (goal >= 0.70: %s)%n", "creation rate (VMs/s)",
                rate, baseRate, rateRatio, rateRatio >= 0.7 ? "met" : "NOT met");
        out.printf(Locale.ROOT, "%-40s %10.1f %10.1f %7.2f   (goal <= 1.25: %s)%n", "host memory per VM (KiB, MemAvailable)",
                hostKib, baseHostKib, hostRatio, hostRatio <= 1.25 ? "met" : "NOT met");
        out.printf(Locale.ROOT, "%-40s %10.1f %10.1f %7.2f%n", "process RSS per VM (KiB)", rssKib, baseRssKib, rssRatio);

        if (options.json().isPresent()) {
            Map<String, Object> json = new LinkedHashMap<>();
            json.put("benchmark", "vm-density");
            json.put("date", LocalDate.now().toString());
            json.put("count", options.count());
            json.put("rounds", options.rounds());
            json.put("guest_memory_kib", options.memoryKib());
            json.put("open_file_limit", limit);
            json.put("flotilla_rate_vms_per_s", rate);
            json.put("flotilla_host_kib_per_vm", hostKib);
            json.put("flotilla_rss_kib_per_vm", rssKib);
            json.put("raw_rate_vms_per_s", baseRate);
            json.put("raw_host_kib_per_vm", baseHostKib);
            json.put("raw_rss_kib_per_vm", baseRssKib);
            json.put("rate_ratio", rateRatio);
            json.put("host_memory_ratio", hostRatio);
            json.put("rss_ratio", rssRatio);
            json.put("goals_met", met);
            json.put("flotilla_rounds", ours.stream().map(Round::toMap).toList());
            json.put("raw_rounds", raw.stream().map(b -> (Object) Map.of("rate_vms_per_s", b.rate(),
                    "host_kib_per_vm", b.hostKibPerVm(), "rss_kib_per_vm", b.rssKibPerVm(), "seconds", b.seconds())).toList());
            Json.write(options.json().get(), json);
            out.println("vm-density: figures written to " + options.json().get());
        }
        return met ? 0 : 3;
    }

    record Round(double seconds, double rate, double hostKib, double rssKib, double createMs, double startMs,
                 double guestMs, double closeSeconds) {
        Map<String, Object> toMap() {
            Map<String, Object> m = new LinkedHashMap<>();
            m.put("seconds", seconds);
            m.put("rate_vms_per_s", rate);
            m.put("host_kib_per_vm", hostKib);
            m.put("rss_kib_per_vm", rssKib);
            m.put("create_ms_per_vm", createMs);
            m.put("start_ms_per_vm", startMs);
            m.put("all_guests_signalled_after_last_start_ms", guestMs);
            m.put("close_seconds", closeSeconds);
            return m;
        }
    }

    private static double median(List<Double> values) {
        double[] v = values.stream().mapToDouble(Double::doubleValue).sorted().toArray();
        return v.length % 2 == 1 ? v[v.length / 2] : (v[v.length / 2 - 1] + v[v.length / 2]) / 2;
    }

    private static Round flotillaRound(VmConfig config, FlatGuestLoader loader, int count)
            throws VmException, InterruptedException {
        List<MicroVm> vms = new ArrayList<>(count);
        try {
            long[] before = HostMemory.settledAvailableAndRss();
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
            long allStarted = System.nanoTime();
            for (int i = 0; i < count; i++) {
                awaitGuestSignal(vms.get(i), i);
            }
            long guestNanos = System.nanoTime() - allStarted;
            double seconds = (System.nanoTime() - begin) / 1e9;
            long[] after = HostMemory.settledAvailableAndRss();
            long running = vms.stream().filter(v -> v.state() == MicroVm.State.RUNNING).count();
            if (running != vms.size()) {
                throw new IllegalStateException(vms.size() - running + " of the VMs ended before the end of the bench");
            }
            // For inspecting the live VMs from outside (jcmd VM.native_memory, /proc/PID/smaps).
            Thread.sleep(Long.getLong("flotilla.bench.holdMillis", 0));
            long closeBegin = System.nanoTime();
            closeAll(vms);
            return new Round(seconds, count / seconds, (double) (before[0] - after[0]) / count,
                    (double) (after[1] - before[1]) / count, createNanos / 1e6 / count, startNanos / 1e6 / count,
                    guestNanos / 1e6, (System.nanoTime() - closeBegin) / 1e9);
        } finally {
            closeAll(vms);
        }
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
