package dev.flotilla.containers.bench;

import dev.flotilla.containers.ContainerImages;
import dev.flotilla.containers.ContainerLauncher;
import dev.flotilla.images.ImageStore;
import dev.flotilla.images.StoreConfig;
import dev.flotilla.vmm.boot.LinuxBoot;

import java.io.OutputStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Locale;
import java.util.Optional;
import java.util.Set;

/**
 * {@code ./flotilla bench container-start}: time from "run this image" (already pulled) to the container's first
 * output line, split into rootfs attach (store lookup and erofs root ready, VM config wired), VM boot (VM built and
 * started to the guest's boot-timer write), agent ready (vsock connect, Hello, sandbox created) and container start
 * (create + start to the first output chunk on the host). The image is built here from busybox-static, pushed to a
 * loopback docker-registry and pulled once before the timed runs; {@code --warmup N} (default 1) launches are not counted. Prints p50/p95 per phase; {@code --json FILE}
 * writes every run.
 */
public final class ContainerStartBench {
    private ContainerStartBench() {}

    public static void main(String[] argv) throws Exception {
        List<String> args = new ArrayList<>(Arrays.asList(argv));
        Path kernel = Path.of(option(args, "--kernel", null));
        String initrd = option(args, "--initrd", "");
        String cmdline = option(args, "--cmdline", "console=ttyS0");
        int runs = Integer.parseInt(option(args, "--runs", "5"));
        // The first launch in a fresh JVM pays class loading and JIT in every phase: reported, not counted.
        int warmup = Integer.parseInt(option(args, "--warmup", "1"));
        int vcpus = Integer.parseInt(option(args, "--vcpus", "1"));
        int memory = Integer.parseInt(option(args, "--memory", "256"));
        String json = option(args, "--json", "");
        if (!args.isEmpty()) {
            throw new IllegalArgumentException("unknown arguments " + args
                    + "; usage: bench container-start --kernel K [--initrd I] [--cmdline C] [--runs N] [--warmup N] [--vcpus V] [--memory MiB] [--json FILE]");
        }
        Path dir = Files.createTempDirectory("fl-bench-container");
        try (LoopbackRegistry registry = LoopbackRegistry.start(dir.resolve("registry"))) {
            Path layout = BusyboxImage.writeLayout(dir.resolve("layout"), "v1", "echo first-line; exec sleep 600");
            String image = registry.push(layout, "v1", "bench/first-line:v1");
            ContainerImages images = new ContainerImages(ImageStore.open(
                    StoreConfig.defaults(dir.resolve("store")).withPlainHttpRegistries(Set.of(registry.address()))));
            images.prepare(image); // the pull and the erofs build are not part of the measured start
            ContainerLauncher launcher = new ContainerLauncher(images, new ContainerLauncher.Guest(kernel,
                    initrd.isEmpty() ? Optional.empty() : Optional.of(Path.of(initrd)), cmdline, vcpus, memory), LinuxBoot::load);
            List<ContainerLauncher.Phases> results = new ArrayList<>();
            for (int i = 0; i < warmup + runs; i++) {
                try (ContainerLauncher.Launched l = launcher.launch("bench-" + i, image, List.of(), OutputStream.nullOutputStream(),
                        Duration.ofSeconds(300), true)) {
                    String out = l.container().log().text();
                    if (!out.startsWith("first-line")) {
                        throw new IllegalStateException("run " + i + ": the container's first output was '" + out + "', not first-line");
                    }
                    if (i >= warmup) {
                        results.add(l.phases());
                    }
                    System.out.printf(Locale.ROOT, (i < warmup ? "warm-up " : "") + "run %d: rootfs %.1f ms, vm boot %.1f ms, agent ready %.1f ms, container start %.1f ms, total %.1f ms%n",
                            i, ms(l.phases().rootfsNanos()), ms(l.phases().vmBootNanos()), ms(l.phases().agentReadyNanos()),
                            ms(l.phases().containerStartNanos()), ms(l.phases().totalNanos()));
                }
            }
            report(results, json);
        } finally {
            try (var s = Files.walk(dir)) {
                for (Path p : s.sorted(java.util.Comparator.reverseOrder()).toList()) {
                    Files.deleteIfExists(p);
                }
            }
        }
    }

    private static void report(List<ContainerLauncher.Phases> results, String json) throws Exception {
        String[] names = {"rootfs_attach", "vm_boot", "agent_ready", "container_start", "total"};
        StringBuilder j = new StringBuilder("{\"benchmark\":\"container-start\",\"runs\":" + results.size() + ",\"phases\":{");
        System.out.printf("container-start over %d runs (ms):%n", results.size());
        for (int k = 0; k < names.length; k++) {
            int kk = k;
            long[] v = results.stream().mapToLong(p -> switch (kk) {
                case 0 -> p.rootfsNanos();
                case 1 -> p.vmBootNanos();
                case 2 -> p.agentReadyNanos();
                case 3 -> p.containerStartNanos();
                default -> p.totalNanos();
            }).sorted().toArray();
            double p50 = ms(percentile(v, 50));
            double p95 = ms(percentile(v, 95));
            System.out.printf(Locale.ROOT, "  %-16s p50 %9.1f  p95 %9.1f%n", names[k], p50, p95);
            j.append(k == 0 ? "" : ",").append(String.format(Locale.ROOT, "\"%s\":{\"p50_ms\":%.2f,\"p95_ms\":%.2f,\"runs_ms\":%s}",
                    names[k], p50, p95, Arrays.toString(Arrays.stream(v).mapToObj(x -> String.format(Locale.ROOT, "%.2f", ms(x))).toArray())));
        }
        j.append("}}\n");
        if (!json.isEmpty()) {
            Files.writeString(Path.of(json), j.toString());
            System.out.println("wrote " + json);
        }
    }

    /** Nearest-rank percentile of sorted values. */
    static long percentile(long[] sorted, int p) {
        int rank = (int) Math.ceil(p / 100.0 * sorted.length);
        return sorted[Math.max(0, Math.min(sorted.length - 1, rank - 1))];
    }

    private static double ms(long nanos) {
        return nanos / 1e6;
    }

    private static String option(List<String> args, String name, String fallback) {
        int i = args.indexOf(name);
        if (i < 0) {
            if (fallback == null) {
                throw new IllegalArgumentException(name + " is required");
            }
            return fallback;
        }
        if (i + 1 >= args.size()) {
            throw new IllegalArgumentException(name + " needs a value");
        }
        String v = args.get(i + 1);
        args.remove(i + 1);
        args.remove(i);
        return v;
    }
}
