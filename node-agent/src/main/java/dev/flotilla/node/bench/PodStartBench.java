package dev.flotilla.node.bench;

import dev.flotilla.containers.bench.BusyboxImage;
import dev.flotilla.containers.bench.LoopbackRegistry;
import dev.flotilla.cri.v1.ContainerConfig;
import dev.flotilla.cri.v1.ContainerMetadata;
import dev.flotilla.cri.v1.CreateContainerRequest;
import dev.flotilla.cri.v1.ImageServiceGrpc;
import dev.flotilla.cri.v1.ImageSpec;
import dev.flotilla.cri.v1.ListPodSandboxStatsRequest;
import dev.flotilla.cri.v1.PodSandboxConfig;
import dev.flotilla.cri.v1.PodSandboxMetadata;
import dev.flotilla.cri.v1.PodSandboxStats;
import dev.flotilla.cri.v1.PodSandboxStatusRequest;
import dev.flotilla.cri.v1.PullImageRequest;
import dev.flotilla.cri.v1.RemovePodSandboxRequest;
import dev.flotilla.cri.v1.RunPodSandboxRequest;
import dev.flotilla.cri.v1.RuntimeServiceGrpc;
import dev.flotilla.cri.v1.StartContainerRequest;
import dev.flotilla.cri.v1.VersionRequest;
import io.grpc.ManagedChannel;
import io.grpc.netty.NettyChannelBuilder;
import io.netty.channel.EventLoopGroup;
import io.netty.channel.epoll.EpollDomainSocketChannel;
import io.netty.channel.epoll.EpollEventLoopGroup;
import io.netty.channel.unix.DomainSocketAddress;

import java.io.IOException;
import java.io.PrintStream;
import java.lang.management.ManagementFactory;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.concurrent.Callable;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * {@code bench pod-start}: what the kubelet waits for when it starts a pod, through the node agent's CRI socket:
 * RunPodSandbox + CreateContainer + StartContainer until the container's first line is in its CRI log file.
 * Serial runs (after warm-up), then {@code --parallel} pods started at once; p50/p95 of each, and each pod's time
 * divided by its own microVM's boot time (start request to the guest's boot-timer write, from PodSandboxStatus), so
 * that a figure taken in the lab can be compared with the boot benchmark's.
 *
 * <p>Like {@code bench density} it starts the packaged agent as a child process (CRI on a socket of its own) and
 * is only a client of it. The image (busybox-static, built here) sits in Debian's docker-registry on loopback and is
 * pulled once before measuring: pod start does not include the pull. {@code --guest tiny} measures RunPodSandbox
 * alone (tiny guests run no containers) and works on every KVM, PVM included.
 */
public final class PodStartBench {
    private static final Pattern BOOT = Pattern.compile("\"bootTimeMillis\":(\\d+)");

    record Options(int runs, int warmup, int parallel, String guest, long memoryMib, String kernel, String initrd,
                   String cmdline, Path jar, Path json) {
    }

    /** One pod start: to its first log line (or, tiny, to RunPodSandbox's answer), and its VM's boot time. */
    record Sample(double millis, double bootMillis) {
    }

    private PodStartBench() {
    }

    public static int main(String[] args) {
        try {
            return new PodStartBench().run(parse(args), System.out);
        } catch (IllegalArgumentException e) {
            System.err.println("bench pod-start: " + e.getMessage());
            System.err.println("usage: bench pod-start [--runs N] [--warmup N] [--parallel P] [--guest linux|tiny] "
                    + "[--memory MiB] [--kernel F --initrd F --cmdline S] [--json FILE] [--jar quarkus-run.jar]");
            return 2;
        } catch (Exception e) {
            System.err.println("bench pod-start failed: " + e);
            e.printStackTrace();
            return 1;
        }
    }

    static Options parse(String[] args) {
        List<String> a = Arrays.asList(args);
        int runs = 10;
        int warmup = 1;
        int parallel = 20;
        String guest = "linux";
        long memory = 128;
        String kernel = null;
        String initrd = null;
        String cmdline = "console=ttyS0";
        Path json = null;
        Path jar = Path.of(System.getProperty("flotilla.node.jar", "node-agent/target/quarkus-app/quarkus-run.jar"));
        for (int i = 2; i < a.size(); i++) {
            String flag = a.get(i);
            if (i + 1 >= a.size()) {
                throw new IllegalArgumentException(flag + " needs a value");
            }
            String v = a.get(++i);
            try {
                switch (flag) {
                    case "--runs" -> runs = Integer.parseInt(v);
                    case "--warmup" -> warmup = Integer.parseInt(v);
                    case "--parallel" -> parallel = Integer.parseInt(v);
                    case "--guest" -> guest = v;
                    case "--memory" -> memory = Long.parseLong(v);
                    case "--kernel" -> kernel = v;
                    case "--initrd" -> initrd = v;
                    case "--cmdline" -> cmdline = v;
                    case "--json" -> json = Path.of(v);
                    case "--jar" -> jar = Path.of(v);
                    default -> throw new IllegalArgumentException("unknown option " + flag);
                }
            } catch (NumberFormatException e) {
                throw new IllegalArgumentException(flag + " needs a whole number, not " + v);
            }
        }
        if (runs < 1 || warmup < 0 || parallel < 0 || memory < 16) {
            throw new IllegalArgumentException("--runs must be at least 1, --warmup and --parallel at least 0, "
                    + "--memory at least 16");
        }
        if (!guest.equals("linux") && !guest.equals("tiny")) {
            throw new IllegalArgumentException("--guest is linux or tiny, not " + guest);
        }
        if (guest.equals("linux") && kernel == null) {
            throw new IllegalArgumentException("--guest linux needs --kernel (and --initrd): guest/build.sh paths");
        }
        if (!Files.isRegularFile(jar)) {
            throw new IllegalArgumentException("the node agent jar " + jar + " does not exist (build node-agent first)");
        }
        return new Options(runs, warmup, parallel, guest, memory, kernel, initrd, cmdline, jar, json);
    }

    private Options o;
    private PrintStream out;
    private Path dir;
    private RuntimeServiceGrpc.RuntimeServiceBlockingStub runtime;
    private String imageId;
    private int pods;

    int run(Options options, PrintStream output) throws Exception {
        o = options;
        out = output;
        dir = Files.createTempDirectory("flotilla-pod-start-");
        LoopbackRegistry registry = null;
        Process agent = null;
        EventLoopGroup loop = new EpollEventLoopGroup(1);
        ManagedChannel channel = null;
        try {
            String image = null;
            if (o.guest().equals("linux")) {
                registry = LoopbackRegistry.start(dir.resolve("registry"));
                Path layout = BusyboxImage.writeLayout(dir.resolve("layout"), "v1", "echo ready; exec sleep 3600");
                image = registry.push(layout, "v1", "bench/pod:v1");
            }
            Path socket = dir.resolve("cri.sock");
            agent = startAgent(socket, registry);
            channel = NettyChannelBuilder.forAddress(new DomainSocketAddress(socket.toString()))
                    .channelType(EpollDomainSocketChannel.class).eventLoopGroup(loop).usePlaintext()
                    .overrideAuthority("localhost").build();
            runtime = RuntimeServiceGrpc.newBlockingStub(channel);
            runtime.withDeadlineAfter(30, TimeUnit.SECONDS).version(VersionRequest.getDefaultInstance());
            if (image != null) {
                imageId = ImageServiceGrpc.newBlockingStub(channel).withDeadlineAfter(600, TimeUnit.SECONDS)
                        .pullImage(PullImageRequest.newBuilder().setImage(ImageSpec.newBuilder().setImage(image))
                                .build()).getImageRef();
            }
            for (int i = 0; i < o.warmup(); i++) {
                startAndRemove();
            }
            List<Sample> serial = new ArrayList<>();
            for (int i = 0; i < o.runs(); i++) {
                serial.add(startAndRemove());
            }
            report("serial", serial);
            List<Sample> parallel = new ArrayList<>();
            if (o.parallel() > 0) {
                long t0 = System.nanoTime();
                Map<String, Long> memBefore = DensityBench.meminfo();
                long rssBefore = rssKib(agent);
                List<Future<Started>> futures = new ArrayList<>();
                try (ExecutorService pool = Executors.newVirtualThreadPerTaskExecutor()) {
                    for (int i = 0; i < o.parallel(); i++) {
                        futures.add(pool.submit((Callable<Started>) () -> startPod(t0)));
                    }
                }
                List<Started> started = new ArrayList<>();
                for (Future<Started> f : futures) {
                    started.add(f.get());
                }
                double wall = (System.nanoTime() - t0) / 1e6;
                if (imageId != null) {
                    overhead(agent, memBefore, rssBefore, started.size());
                }
                for (Started s : started) {
                    parallel.add(sample(s));
                    remove(s.podId());
                }
                report(o.parallel() + " in parallel", parallel);
                out.printf(Locale.ROOT, "pod-start %d in parallel: all started in %.0f ms%n", o.parallel(), wall);
            }
            if (o.json() != null) {
                Files.writeString(o.json(), json(serial, parallel));
                out.println("pod-start: figures written to " + o.json());
            }
            return 0;
        } finally {
            if (channel != null) {
                channel.shutdownNow().awaitTermination(5, TimeUnit.SECONDS);
            }
            loop.shutdownGracefully(0, 1, TimeUnit.SECONDS);
            if (agent != null) {
                agent.destroy();
                if (!agent.waitFor(60, TimeUnit.SECONDS)) {
                    agent.destroyForcibly();
                }
            }
            if (registry != null) {
                registry.close();
            }
        }
    }

    private Process startAgent(Path socket, LoopbackRegistry registry) throws IOException, InterruptedException {
        List<String> cmd = new ArrayList<>(List.of(Path.of(System.getProperty("java.home"), "bin", "java").toString(),
                "--enable-native-access=ALL-UNNAMED"));
        // The lab's JIT setting (C1 only, see scripts/e2e.sh) applies to the agent too.
        ManagementFactory.getRuntimeMXBean().getInputArguments().stream()
                .filter(a -> a.startsWith("-XX:TieredStopAtLevel")).forEach(cmd::add);
        int pods = Math.max(1, o.parallel());
        cmd.addAll(List.of("-Dquarkus.http.port=0", "-Dquarkus.http.host=127.0.0.1",
                "-Dflotilla.node.state-dir=" + dir.resolve("state"), "-Dflotilla.node.auth.tokens=pod-start-bench",
                "-Dflotilla.node.state-fsync=false",
                "-Dflotilla.node.cri.enabled=true", "-Dflotilla.node.cri.socket=" + socket,
                "-Dflotilla.node.cri.guest=" + o.guest(), "-Dflotilla.node.cri.base-memory-mib=" + o.memoryMib(),
                // Guests touch a fraction of their memory: let the parallel burst fit whatever the host's size.
                "-Dflotilla.node.capacity.memory-overcommit=" + Math.max(1, pods * o.memoryMib() / 256),
                "-Dflotilla.node.capacity.cpu-overcommit=" + Math.max(4, pods),
                "-Dflotilla.node.guests.boot-timeout=600s", "-Dflotilla.node.containers.agent-timeout=600s"));
        if (o.kernel() != null) {
            cmd.add("-Dflotilla.node.guests.linux-kernel=" + o.kernel());
            if (o.initrd() != null) {
                cmd.add("-Dflotilla.node.guests.linux-initrd=" + o.initrd());
            }
            cmd.add("-Dflotilla.node.guests.linux-cmdline=" + o.cmdline());
        }
        if (registry != null) {
            cmd.add("-Dflotilla.node.containers.insecure-registries=" + registry.address());
        }
        cmd.addAll(List.of("-jar", o.jar().toString()));
        Path log = dir.resolve("agent.log");
        out.printf(Locale.ROOT, "pod-start: starting the node agent (%s), %s guests, CRI on %s%n", o.jar(), o.guest(),
                socket);
        Process agent = new ProcessBuilder(cmd).redirectErrorStream(true).redirectOutput(log.toFile()).start();
        long until = System.nanoTime() + TimeUnit.SECONDS.toNanos(600);
        while (!Files.exists(socket)) {
            if (!agent.isAlive() || System.nanoTime() > until) {
                agent.destroyForcibly();
                throw new IOException("the node agent did not serve the CRI: " + Files.readString(log));
            }
            Thread.sleep(100);
        }
        return agent;
    }

    /**
     * What the running pods cost the node beyond their containers, for RuntimeClass {@code overhead.podFixed}:
     * after the pods settled, the fall of MemAvailable per pod (guest memory the VMs touched, the agent's per-VM
     * heap and threads, the kernel's KVM structures) less the containers' own working set (their cgroups in the
     * guest), and the agent's CPU per idle pod over ten seconds (vCPU, device and agent threads: all in its JVM).
     */
    private void overhead(Process agent, Map<String, Long> memBefore, long rssBefore, int pods) throws Exception {
        Thread.sleep(10_000); // guests finish their init; the page cache of the first reads fills
        Map<String, Long> memAfter = DensityBench.meminfo();
        long rssAfter = rssKib(agent);
        Duration cpuBefore = agent.info().totalCpuDuration().orElse(Duration.ZERO);
        long t = System.nanoTime();
        Thread.sleep(10_000);
        double cpuSeconds = (agent.info().totalCpuDuration().orElse(Duration.ZERO).minus(cpuBefore).toNanos()) / 1e9;
        double seconds = (System.nanoTime() - t) / 1e9;
        List<PodSandboxStats> stats = runtime.withDeadlineAfter(120, TimeUnit.SECONDS)
                .listPodSandboxStats(ListPodSandboxStatsRequest.getDefaultInstance()).getStatsList();
        double[] resident = stats.stream().mapToDouble(p -> p.getLinux().getMemory().getWorkingSetBytes().getValue()
                / 1048576.0).toArray();
        double[] containers = stats.stream().mapToDouble(p -> p.getLinux().getContainersList().stream()
                .mapToLong(c -> c.getMemory().getWorkingSetBytes().getValue()).sum() / 1048576.0).toArray();
        double nodePerPod = (memBefore.get("MemAvailable") - memAfter.get("MemAvailable")) / 1024.0 / pods;
        double rssPerPod = (rssAfter - rssBefore) / 1024.0 / pods;
        double containersMean = Arrays.stream(containers).average().orElse(0);
        out.printf(Locale.ROOT, "pod-overhead (%d idle %s pods, %d MiB guests): node memory per pod %.1f MiB "
                        + "(MemAvailable fall), agent RSS per pod %.1f MiB; VM resident p50 %.1f MiB / max %.1f MiB, "
                        + "containers' working set p50 %.1f MiB; overhead per pod (node memory - containers) %.1f MiB; "
                        + "agent CPU while idle %.0f millicores per pod%n", pods, o.guest(), o.memoryMib(), nodePerPod,
                rssPerPod, DensityBench.pct(resident, 50), DensityBench.pct(resident, 100),
                DensityBench.pct(containers, 50), nodePerPod - containersMean, cpuSeconds / seconds / pods * 1000);
    }

    private static long rssKib(Process agent) throws IOException {
        for (String line : Files.readAllLines(Path.of("/proc", Long.toString(agent.pid()), "status"))) {
            if (line.startsWith("VmRSS:")) {
                return Long.parseLong(line.replaceAll("[^0-9]", ""));
            }
        }
        throw new IOException("no VmRSS in the node agent's /proc status");
    }

    /** A pod and when its first line appeared, in ms since {@code t0}. */
    record Started(String podId, double millis) {
    }

    private Sample startAndRemove() throws Exception {
        Started s = startPod(System.nanoTime());
        Sample sample = sample(s);
        out.printf(Locale.ROOT, "pod-start: %.0f ms (its VM booted in %.0f ms)%n", sample.millis(), sample.bootMillis());
        remove(s.podId());
        return sample;
    }

    private Started startPod(long t0) throws Exception {
        int n;
        synchronized (this) {
            n = ++pods;
        }
        String name = "bench-" + n;
        Path logDir = Files.createDirectories(dir.resolve("logs").resolve(name));
        PodSandboxConfig config = PodSandboxConfig.newBuilder().setMetadata(PodSandboxMetadata.newBuilder()
                        .setName(name).setNamespace("bench").setUid("uid-" + n))
                .setHostname(name).setLogDirectory(logDir.toString()).build();
        var rt = runtime.withDeadlineAfter(900, TimeUnit.SECONDS);
        String pod = rt.runPodSandbox(RunPodSandboxRequest.newBuilder().setConfig(config).build()).getPodSandboxId();
        if (imageId == null) {
            return new Started(pod, (System.nanoTime() - t0) / 1e6);
        }
        String container = rt.createContainer(CreateContainerRequest.newBuilder().setPodSandboxId(pod)
                .setSandboxConfig(config).setConfig(ContainerConfig.newBuilder()
                        .setMetadata(ContainerMetadata.newBuilder().setName("app"))
                        .setImage(ImageSpec.newBuilder().setImage(imageId)).setLogPath("app/0.log"))
                .build()).getContainerId();
        rt.startContainer(StartContainerRequest.newBuilder().setContainerId(container).build());
        Path log = logDir.resolve("app/0.log");
        long until = System.nanoTime() + TimeUnit.SECONDS.toNanos(300);
        while (true) {
            // The kubelet reads the file; so do we. Polled every millisecond, a negligible share of the figure.
            if (Files.exists(log) && Files.readString(log).contains(" stdout F ready")) {
                return new Started(pod, (System.nanoTime() - t0) / 1e6);
            }
            if (System.nanoTime() > until) {
                throw new IOException("pod " + name + " wrote no first line within 300 s");
            }
            Thread.sleep(1);
        }
    }

    private Sample sample(Started s) {
        String info = runtime.withDeadlineAfter(30, TimeUnit.SECONDS).podSandboxStatus(PodSandboxStatusRequest
                .newBuilder().setPodSandboxId(s.podId()).setVerbose(true).build()).getInfoMap().getOrDefault("vm", "");
        Matcher m = BOOT.matcher(info);
        return new Sample(s.millis(), m.find() ? Double.parseDouble(m.group(1)) : Double.NaN);
    }

    private void remove(String pod) {
        runtime.withDeadlineAfter(120, TimeUnit.SECONDS).removePodSandbox(RemovePodSandboxRequest.newBuilder()
                .setPodSandboxId(pod).build());
    }

    private void report(String what, List<Sample> samples) {
        double[] ms = samples.stream().mapToDouble(Sample::millis).toArray();
        double[] ratio = samples.stream().filter(s -> s.bootMillis() > 0)
                .mapToDouble(s -> s.millis() / s.bootMillis()).toArray();
        double[] boot = samples.stream().mapToDouble(Sample::bootMillis).filter(b -> !Double.isNaN(b)).toArray();
        out.printf(Locale.ROOT, "pod-start %s (%s guest, %d pods): p50 %.0f ms, p95 %.0f ms; VM boot p50 %.0f ms; "
                        + "pod start / own VM boot p50 %.2fx%n", what, o.guest(), samples.size(),
                DensityBench.pct(ms, 50), DensityBench.pct(ms, 95), DensityBench.pct(boot, 50),
                DensityBench.pct(ratio, 50));
    }

    private String json(List<Sample> serial, List<Sample> parallel) {
        return "{\"guest\":\"" + o.guest() + "\",\"serial\":" + array(serial) + ",\"parallel\":" + array(parallel) + "}\n";
    }

    private static String array(List<Sample> samples) {
        return samples.stream().map(s -> String.format(Locale.ROOT, "{\"ms\":%.1f,\"bootMs\":%s}", s.millis(),
                        Double.isNaN(s.bootMillis()) ? "null" : String.format(Locale.ROOT, "%.0f", s.bootMillis())))
                .collect(java.util.stream.Collectors.joining(",", "[", "]"));
    }
}
