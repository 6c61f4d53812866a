package dev.flotilla.vmm.bench;

import dev.flotilla.vmm.ExitReason;
import dev.flotilla.vmm.MicroVm;
import dev.flotilla.vmm.VmConfig;
import dev.flotilla.vmm.VmException;
import dev.flotilla.vmm.kvm.KvmHost;

import java.io.IOException;
import java.io.InputStream;
import java.io.PrintStream;
import java.nio.file.Path;
import java.time.Duration;
import java.time.LocalDate;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.TimeUnit;
import java.util.stream.Stream;

/**
 * {@code bench boot}: boots the same Linux guest (kernel, initramfs, command line, vCPUs, memory)
 * <ol>
 *   <li>in this JVM, {@code runs + 1} times: the first boot is the cold one (classes loaded and
 *       native calls linked on the way) and is reported apart; p50/p95 over the warm ones. For each:
 *       build time (start request to the boot vCPU's first KVM_RUN), boot to init (start request to
 *       init's boot-timer write) and start request to the init's marker line on the console;</li>
 *   <li>under QEMU {@code -M microvm,acpi=off}, once cold (reported apart) and {@code runs} times warm, each after one of the boots
 *       above (interleaved, so that the host's load drift hits both alike), timed from process spawn
 *       to the marker line on its serial output (QEMU has no in-process start request to time from);</li>
 *   <li>as a fresh {@code vm run} process, {@code processRuns} times, timed exactly like QEMU:
 *       spawn to marker line, JVM start included.</li>
 * </ol>
 * The headline ratio is the in-process warm boot to init over QEMU's spawn to marker: the product
 * starts VMs from a running JVM (the node agent), so a warm in-process boot is what a user gets.
 */
public final class BootBench {

    /** The guest's own options; MicroVm appends its fixed ones (reboot=k, pci=off, i8042.*). */
    public static final String DEFAULT_CMDLINE =
            "console=ttyS0 reboot=k panic=1 tsc=reliable ipv6.disable=1 random.trust_cpu=on quiet";
    static final String MARKER = "flotilla-init: userspace up";
    private static final Duration BOOT_TIMEOUT = Duration.ofMinutes(5);

    public record Options(Path kernel, Path initrd, int runs, int processRuns, int vcpus, int memoryMib,
                          String cmdline, String qemu, Optional<Path> json, boolean hugePages) {
        public Options {
            if (runs < 1 || processRuns < 0) {
                throw new IllegalArgumentException("--runs must be at least 1 and --process-runs at least 0");
            }
        }
    }

    private BootBench() {}

    private record InProcessBoot(double buildMs, double bootMs, double markerMs) {}

    public static int run(Options o, PrintStream out) throws IOException, InterruptedException, VmException {
        KvmHost host = KvmHost.detect();
        boolean inLab = "1".equals(System.getenv("FLOTILLA_IN_LAB"));
        String environment = inLab ? "lab (nested QEMU-TCG host with emulated AMD-V)" : "native " + host.kind();
        out.println("boot: host: " + host.sentence());
        out.println("boot: environment: " + environment);
        if (host.kind() != KvmHost.Kind.HARDWARE && !inLab) {
            throw new IllegalStateException("a stock Linux guest cannot boot on this host's KVM (" + host.kind()
                    + "); run ./flotilla bench boot, which re-launches the benchmark inside the lab");
        }
        // Both VMMs get the very same command line: ours with what MicroVm appends, given to QEMU as is.
        String cmdline = MicroVm.kernelCommandLine(o.cmdline(), List.of());
        out.printf("boot: kernel %s, initrd %s, %d vCPU(s), %d MiB, guest RAM in %s pages%nboot: cmdline: %s%n",
                o.kernel(), o.initrd(), o.vcpus(), o.memoryMib(), o.hugePages() ? "transparent huge" : "4 KiB", cmdline);

        // The cold boot first, then warm boots and QEMU boots interleaved: on a shared host the load
        // drifts over minutes, and interleaving spreads that drift over both sides alike.
        List<InProcessBoot> boots = new ArrayList<>();
        List<Double> qemu = new ArrayList<>();
        int qemuFailures = 0;
        double qemuCold = Double.NaN;
        for (int i = 0; i <= o.runs(); i++) {
            InProcessBoot b = bootInProcess(o, cmdline);
            boots.add(b);
            out.printf(Locale.ROOT, "boot: flotilla in-process %-5s #%-2d build %7.1f ms, boot to init %8.1f ms, marker %8.1f ms%n",
                    i == 0 ? "cold" : "warm", i, b.buildMs(), b.bootMs(), b.markerMs());
            if (i == 0) {
                // QEMU's first start is cold too (binary, firmware and libraries not yet in the page
                // cache): reported apart, like ours.
                try {
                    qemuCold = spawnToMarker(qemuCommand(o, cmdline), "QEMU");
                    out.printf(Locale.ROOT, "boot: qemu microvm       cold #0  spawn to marker %8.1f ms%n", qemuCold);
                } catch (IOException e) {
                    qemuFailures++;
                    out.printf("boot: qemu microvm       cold #0  FAILED: %s%n", e.getMessage().lines().findFirst().orElse(""));
                }
            } else {
                try {
                    double ms = spawnToMarker(qemuCommand(o, cmdline), "QEMU");
                    qemu.add(ms);
                    out.printf(Locale.ROOT, "boot: qemu microvm            #%-2d spawn to marker %8.1f ms%n", i, ms);
                } catch (IOException e) {
                    // One stuck sample on an overloaded host should not void the others: count it.
                    qemuFailures++;
                    out.printf("boot: qemu microvm            #%-2d FAILED: %s%n", i, e.getMessage().lines().findFirst().orElse(""));
                }
            }
        }
        List<Double> process = new ArrayList<>();
        int processFailures = 0;
        for (int i = 0; i < o.processRuns(); i++) {
            try {
                double ms = spawnToMarker(vmRunCommand(o), "flotilla vm run");
                process.add(ms);
                out.printf(Locale.ROOT, "boot: flotilla vm run process #%-2d spawn to marker %8.1f ms%n", i + 1, ms);
            } catch (IOException e) {
                processFailures++;
                out.printf("boot: flotilla vm run process #%-2d FAILED: %s%n", i + 1, e.getMessage().lines().findFirst().orElse(""));
            }
        }
        if (qemu.isEmpty()) {
            throw new IllegalStateException("every QEMU boot failed: no comparison possible");
        }

        InProcessBoot cold = boots.getFirst();
        List<InProcessBoot> warm = boots.subList(1, boots.size());
        List<Double> build = warm.stream().map(InProcessBoot::buildMs).toList();
        List<Double> boot = warm.stream().map(InProcessBoot::bootMs).toList();
        List<Double> marker = warm.stream().map(InProcessBoot::markerMs).toList();
        Percentiles pBuild = Percentiles.of(build);
        Percentiles pBoot = Percentiles.of(boot);
        Percentiles pMarker = Percentiles.of(marker);
        Percentiles pQemu = Percentiles.of(qemu);
        Percentiles pProcess = Percentiles.of(process);
        double ratio = pBoot.p50() / pQemu.p50();
        double ratioP95 = pBoot.p95() / pQemu.p95();
        double processRatio = pProcess.n() == 0 ? Double.NaN : pProcess.p50() / pQemu.p50();

        out.println();
        out.printf(Locale.ROOT, "boot: flotilla cold (first boot in this JVM): build %.1f ms, boot to init %.1f ms, marker %.1f ms%n",
                cold.buildMs(), cold.bootMs(), cold.markerMs());
        out.println("boot: flotilla warm build (start request -> first KVM_RUN):      " + pBuild.describe());
        out.println("boot: flotilla warm boot to init (start request -> boot timer):  " + pBoot.describe());
        out.println("boot: flotilla warm start request -> marker line:               " + pMarker.describe());
        out.printf(Locale.ROOT, "boot: qemu cold (first start): spawn to marker %.1f ms%n", qemuCold);
        out.println("boot: qemu -M microvm warm spawn -> marker line:                 " + pQemu.describe());
        if (pProcess.n() > 0) {
            out.println("boot: flotilla fresh `vm run` process spawn -> marker line:     " + pProcess.describe());
        }
        if (qemuFailures + processFailures > 0) {
            out.printf("boot: failed samples (not in the figures above): qemu %d, vm run process %d%n",
                    qemuFailures, processFailures);
        }
        out.printf(Locale.ROOT, "boot: ratio flotilla warm boot-to-init / qemu spawn-to-marker: p50 %.2f, p95 %.2f (goal <= 0.80: %s)%n",
                ratio, ratioP95, ratio <= 0.8 ? "met" : "NOT met");
        if (pProcess.n() > 0) {
            out.printf(Locale.ROOT, "boot: ratio fresh `vm run` process / qemu, both spawn-to-marker: p50 %.2f%n", processRatio);
        }

        if (o.json().isPresent()) {
            Map<String, Object> json = new LinkedHashMap<>();
            json.put("benchmark", "boot");
            json.put("date", LocalDate.now().toString());
            json.put("environment", environment);
            json.put("host", host.sentence());
            json.put("kernel", o.kernel().toString());
            json.put("initrd", o.initrd().toString());
            json.put("vcpus", o.vcpus());
            json.put("memory_mib", o.memoryMib());
            json.put("huge_pages", o.hugePages());
            json.put("cmdline", cmdline);
            Map<String, Object> coldMap = new LinkedHashMap<>();
            coldMap.put("build_ms", cold.buildMs());
            coldMap.put("boot_to_init_ms", cold.bootMs());
            coldMap.put("marker_ms", cold.markerMs());
            json.put("flotilla_cold", coldMap);
            json.put("flotilla_warm_build", pBuild.toMap(build));
            json.put("flotilla_warm_boot_to_init", pBoot.toMap(boot));
            json.put("flotilla_warm_marker", pMarker.toMap(marker));
            json.put("qemu_cold_spawn_to_marker_ms", qemuCold);
            json.put("qemu_spawn_to_marker", pQemu.toMap(qemu));
            json.put("flotilla_process_spawn_to_marker", pProcess.toMap(process));
            json.put("ratio_p50", ratio);
            json.put("ratio_p95", ratioP95);
            json.put("process_ratio_p50", processRatio);
            json.put("qemu_failed_samples", qemuFailures);
            json.put("process_failed_samples", processFailures);
            json.put("goal_met", ratio <= 0.8);
            Json.write(o.json().get(), json);
            out.println("boot: figures written to " + o.json().get());
        }
        return ratio <= 0.8 ? 0 : 3;
    }

    private static InProcessBoot bootInProcess(Options o, String cmdline) throws VmException, InterruptedException {
        MarkerWatch console = new MarkerWatch(MARKER);
        VmConfig config = VmConfig.builder().kernel(o.kernel()).initrd(o.initrd()).cmdline(cmdline)
                .vcpus(o.vcpus()).memoryMib(o.memoryMib()).hugePages(o.hugePages()).consoleOutput(console).build();
        long start = System.nanoTime();
        try (MicroVm vm = MicroVm.create(config)) {
            vm.start();
            long deadline = start + BOOT_TIMEOUT.toNanos();
            while (vm.bootTimeNanos().isEmpty() || console.seenAt() < 0) {
                Optional<ExitReason> ended = vm.awaitExit(Duration.ofMillis(2));
                if (ended.isPresent()) {
                    throw new IllegalStateException("the guest ended before its init was up (" + ended.get().describe()
                            + "); console:\n" + console.tail());
                }
                if (System.nanoTime() > deadline) {
                    throw new IllegalStateException("the guest's init was not up within " + BOOT_TIMEOUT
                            + "; console:\n" + console.tail());
                }
            }
            double build = vm.timeToFirstRunNanos().orElseThrow() / 1e6;
            double boot = vm.bootTimeNanos().orElseThrow() / 1e6;
            double marker = (console.seenAt() - start) / 1e6;
            try {
                vm.stop();
            } catch (java.util.concurrent.TimeoutException e) {
                throw new IllegalStateException("the VM did not stop: " + e.getMessage(), e);
            }
            return new InProcessBoot(build, boot, marker);
        }
    }

    static List<String> qemuCommand(Options o, String cmdline) {
        return List.of(o.qemu(), "-M", "microvm,acpi=off", "-enable-kvm", "-cpu", "host",
                "-nodefaults", "-no-user-config", "-nographic", "-no-reboot",
                "-smp", Integer.toString(o.vcpus()), "-m", o.memoryMib() + "M",
                "-kernel", o.kernel().toString(), "-initrd", o.initrd().toString(), "-append", cmdline,
                "-serial", "stdio");
    }

    private static List<String> vmRunCommand(Options o) {
        String java = Path.of(System.getProperty("java.home"), "bin", "java").toString();
        List<String> command = List.of(java, "--enable-native-access=ALL-UNNAMED", "-cp", System.getProperty("java.class.path"),
                "dev.flotilla.vmm.cli.Main", "vm", "run", "--kernel", o.kernel().toString(),
                "--initrd", o.initrd().toString(), "--cmdline", o.cmdline(), "--vcpus", Integer.toString(o.vcpus()),
                "--memory", Integer.toString(o.memoryMib()));
        return o.hugePages() ? Stream.concat(command.stream(), Stream.of("--huge-pages")).toList() : command;
    }

    /** Spawns {@code command}, returns milliseconds from spawn to the marker on its output, then kills it. */
    private static double spawnToMarker(List<String> command, String what) throws IOException, InterruptedException {
        MarkerWatch watch = new MarkerWatch(MARKER);
        ProcessBuilder pb = new ProcessBuilder(command).redirectErrorStream(true)
                .redirectInput(ProcessBuilder.Redirect.from(new java.io.File("/dev/null")));
        long start = System.nanoTime();
        Process p = pb.start();
        Thread reader = Thread.ofPlatform().daemon(true).name("bench-output").start(() -> {
            try (InputStream in = p.getInputStream()) {
                byte[] buf = new byte[4096];
                int n;
                while ((n = in.read(buf)) > 0) {
                    for (int i = 0; i < n; i++) {
                        watch.write(buf[i]);
                    }
                }
            } catch (IOException e) {
                // the process was killed
            }
        });
        try {
            long deadline = start + BOOT_TIMEOUT.toNanos();
            while (watch.seenAt() < 0) {
                if (!p.isAlive() && !reader.isAlive()) {
                    throw new IOException(what + " exited (status " + p.exitValue() + ") before the marker; output:\n"
                            + watch.tail());
                }
                if (System.nanoTime() > deadline) {
                    throw new IOException(what + " showed no marker within " + BOOT_TIMEOUT + "; output:\n" + watch.tail());
                }
                Thread.sleep(1);
            }
            return (watch.seenAt() - start) / 1e6;
        } finally {
            p.destroy();
            if (!p.waitFor(10, TimeUnit.SECONDS)) {
                p.destroyForcibly().waitFor();
            }
            reader.join(2000);
        }
    }
}
