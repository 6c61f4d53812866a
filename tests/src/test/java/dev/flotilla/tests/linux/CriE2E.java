package dev.flotilla.tests.linux;

import dev.flotilla.containers.bench.BusyboxImage;
import dev.flotilla.containers.bench.LoopbackRegistry;
import dev.flotilla.cri.streaming.WebSocketTestClient;
import dev.flotilla.cri.v1.*;
import io.grpc.ManagedChannel;
import io.grpc.Status;
import io.grpc.StatusRuntimeException;
import io.grpc.netty.NettyChannelBuilder;
import io.netty.channel.EventLoopGroup;
import io.netty.channel.epoll.EpollDomainSocketChannel;
import io.netty.channel.epoll.EpollEventLoopGroup;
import io.netty.channel.unix.DomainSocketAddress;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestInstance;

import java.lang.management.ManagementFactory;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.regex.Pattern;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * The kubelet's sequence against the packaged node agent's CRI socket, with a Linux pod: pull from a loopback
 * registry, run a pod sandbox on a CNI network (Debian's bridge plugin; the node pings the VM at the pod IP), create and start a container, its output in the kubelet's log file in the CRI
 * format, ExecSync output and exit code, Exec and Attach through the streaming server (WebSocket), PortForward (SPDY)
 * to a container's port, stdin: false as EOF, UpdateContainerResources (a memory limit that OOM-kills), removal of a
 * running container, stop and removal of the pod. One pod, one
 * microVM: the lab is slow.
 */
@TestInstance(TestInstance.Lifecycle.PER_CLASS)
class CriE2E {
    private static final long DEADLINE_SECONDS = 400;
    private static final String CNI_BRIDGE = "fltcrie2e";
    /** {@code <RFC 3339 nano UTC> <stream> <P|F> <text>}: what the kubelet's log reader parses. */
    private static final Pattern CRI_LINE = Pattern.compile(
            "\\d{4}-\\d\\d-\\d\\dT\\d\\d:\\d\\d:\\d\\d\\.\\d{9}Z (stdout|stderr) [PF] .*");

    Path dir;
    LoopbackRegistry registry;
    String image;
    Process agent;
    Path agentLog;
    EventLoopGroup loop;
    ManagedChannel channel;
    RuntimeServiceGrpc.RuntimeServiceBlockingStub runtime;
    ImageServiceGrpc.ImageServiceBlockingStub images;

    @BeforeAll
    void startRegistryAndAgent() throws Exception {
        dir = Files.createTempDirectory("fl-cri");
        registry = LoopbackRegistry.start(dir.resolve("registry"));
        Path layout = BusyboxImage.writeLayout(dir.resolve("layout"), "v1", "echo default command");
        image = registry.push(layout, "v1", "e2e/cri:v1");

        Path home = Path.of(CriE2E.class.getProtectionDomain().getCodeSource().getLocation().toURI())
                .getParent().getParent().getParent(); // tests/target/test-classes -> the checkout
        Path jar = home.resolve("node-agent/target/quarkus-app/quarkus-run.jar");
        assertTrue(Files.isRegularFile(jar), jar + " is missing: run mvn install first");
        // Pods get their network from CNI, as under a kubelet: Debian's bridge + host-local plugins.
        Path cniConf = Files.createDirectories(dir.resolve("net.d"));
        Files.writeString(cniConf.resolve("10-e2e.conflist"), """
                {"cniVersion": "1.0.0", "name": "flotilla-e2e", "plugins": [
                  {"type": "bridge", "bridge": "%s", "isGateway": true, "ipMasq": false,
                   "ipam": {"type": "host-local", "ranges": [[{"subnet": "10.252.0.0/24"}]], "dataDir": "%s"}}
                ]}""".formatted(CNI_BRIDGE, dir.resolve("ipam")));
        Path socket = dir.resolve("run/cri.sock");
        List<String> command = new ArrayList<>(List.of(Path.of(System.getProperty("java.home"), "bin", "java")
                .toString(), "--enable-native-access=ALL-UNNAMED", "-Xmx384m"));
        // The lab's JIT setting (C1 only, see scripts/e2e.sh) applies to the agent's JVM too.
        ManagementFactory.getRuntimeMXBean().getInputArguments().stream()
                .filter(a -> a.startsWith("-XX:TieredStopAtLevel")).forEach(command::add);
        command.addAll(List.of("-Dquarkus.http.port=0", "-Dflotilla.node.auth.tokens=e2e",
                "-Dflotilla.node.state-dir=" + dir.resolve("state"),
                "-Dflotilla.node.cri.enabled=true", "-Dflotilla.node.cri.socket=" + socket,
                "-Dflotilla.node.cri.guest=linux", "-Dflotilla.node.cri.base-memory-mib=256",
                "-Dflotilla.node.guests.linux-kernel=" + GuestArtifacts.vmlinux(),
                "-Dflotilla.node.guests.linux-initrd=" + GuestArtifacts.initrd(),
                "-Dflotilla.node.guests.linux-cmdline=" + GuestArtifacts.cmdline(""),
                "-Dflotilla.node.guests.boot-timeout=180s", "-Dflotilla.node.containers.agent-timeout=180s",
                "-Dflotilla.node.containers.insecure-registries=" + registry.address(),
                "-Dflotilla.node.cri.pod-network=cni", "-Dflotilla.node.cri.cni-conf-dir=" + cniConf,
                "-Dflotilla.node.cri.cni-bin-dirs=/usr/lib/cni,/opt/cni/bin",
                "-jar", jar.toString()));
        agentLog = GuestArtifacts.results().resolve("cri-agent.log");
        agent = new ProcessBuilder(command).redirectErrorStream(true).redirectOutput(agentLog.toFile()).start();

        loop = new EpollEventLoopGroup(1);
        long until = System.nanoTime() + TimeUnit.SECONDS.toNanos(300);
        while (!Files.exists(socket)) {
            assertTrue(agent.isAlive(), "the node agent exited: " + Files.readString(agentLog));
            assertTrue(System.nanoTime() < until, "no CRI socket after 300 s: " + Files.readString(agentLog));
            Thread.sleep(200);
        }
        channel = NettyChannelBuilder.forAddress(new DomainSocketAddress(socket.toString()))
                .channelType(EpollDomainSocketChannel.class).eventLoopGroup(loop).usePlaintext()
                .overrideAuthority("localhost").build();
        runtime = RuntimeServiceGrpc.newBlockingStub(channel);
        images = ImageServiceGrpc.newBlockingStub(channel);
    }

    @AfterAll
    void stop() throws Exception {
        if (channel != null) {
            channel.shutdownNow().awaitTermination(5, TimeUnit.SECONDS);
            loop.shutdownGracefully(0, 1, TimeUnit.SECONDS);
        }
        if (agent != null) {
            agent.destroy(); // SIGTERM: the agent stops its VMs and removes the socket
            if (!agent.waitFor(60, TimeUnit.SECONDS)) {
                agent.destroyForcibly();
            }
        }
        if (registry != null) {
            registry.close();
        }
        new ProcessBuilder("ip", "link", "del", CNI_BRIDGE).start().waitFor(10, TimeUnit.SECONDS);
    }

    private RuntimeServiceGrpc.RuntimeServiceBlockingStub rt() {
        return runtime.withDeadlineAfter(DEADLINE_SECONDS, TimeUnit.SECONDS);
    }

    @Test
    void kubeletSequence_pullRunCreateStartLogExecStopRemove() throws Exception {
        RuntimeCondition ready = rt().status(StatusRequest.getDefaultInstance()).getStatus().getConditionsList()
                .stream().filter(c -> c.getType().equals("RuntimeReady")).findFirst().orElseThrow();
        assertTrue(ready.getStatus(), "RuntimeReady: " + ready.getReason() + " " + ready.getMessage());

        String imageId = images.withDeadlineAfter(DEADLINE_SECONDS, TimeUnit.SECONDS).pullImage(PullImageRequest
                .newBuilder().setImage(ImageSpec.newBuilder().setImage(image)).build()).getImageRef();
        assertTrue(imageId.startsWith("sha256:"), imageId);

        Path logDir = Files.createDirectories(dir.resolve("pods/default_web_1"));
        PodSandboxConfig podConfig = PodSandboxConfig.newBuilder()
                .setMetadata(PodSandboxMetadata.newBuilder().setName("web").setNamespace("default").setUid("uid-1"))
                .setHostname("web-pod").setLogDirectory(logDir.toString()).putLabels("app", "web").build();
        long started = System.nanoTime();
        String pod = rt().runPodSandbox(RunPodSandboxRequest.newBuilder().setConfig(podConfig).build())
                .getPodSandboxId();

        String app = rt().createContainer(CreateContainerRequest.newBuilder().setPodSandboxId(pod)
                .setSandboxConfig(podConfig).setConfig(ContainerConfig.newBuilder()
                        .setMetadata(ContainerMetadata.newBuilder().setName("app"))
                        .setImage(ImageSpec.newBuilder().setImage(imageId))
                        .addAllCommand(List.of("/bin/sh", "-c"))
                        .addArgs("echo hello from $(hostname) as $(id -u); echo warning >&2; exec sleep 600")
                        .addEnvs(KeyValue.newBuilder().setKey("GREETING").setValue("cri"))
                        .setLogPath("app/0.log"))
                .build()).getContainerId();
        rt().startContainer(StartContainerRequest.newBuilder().setContainerId(app).build());

        Path log = logDir.resolve("app/0.log");
        List<String> lines = awaitLines(log, 2);
        long podStartMillis = TimeUnit.NANOSECONDS.toMillis(System.nanoTime() - started);
        System.out.println("CriE2E: RunPodSandbox + CreateContainer + StartContainer to first log line: "
                + podStartMillis + " ms (lab timings compare only to other lab timings)");
        for (String line : lines) {
            assertTrue(CRI_LINE.matcher(line).matches(), "CRI log format: " + line);
        }
        assertTrue(lines.stream().anyMatch(l -> l.endsWith(" stdout F hello from web-pod as 1000")), lines.toString());
        assertTrue(lines.stream().anyMatch(l -> l.endsWith(" stderr F warning")), lines.toString());

        ContainerStatus status = rt().containerStatus(ContainerStatusRequest.newBuilder().setContainerId(app).build())
                .getStatus();
        assertEquals(ContainerState.CONTAINER_RUNNING, status.getState());
        assertEquals(log.toString(), status.getLogPath());
        assertEquals(List.of(app), rt().listContainers(ListContainersRequest.newBuilder().setFilter(ContainerFilter
                .newBuilder().setPodSandboxId(pod)).build()).getContainersList().stream().map(Container::getId)
                .toList());

        // The pod's network came from CNI: its address is the VM's (eth0 in the guest), and the node reaches it
        // (ICMP echo from here, as root: bridge -> veth -> tc redirect -> the VM's tap -> the guest).
        String podIp = rt().podSandboxStatus(PodSandboxStatusRequest.newBuilder().setPodSandboxId(pod).build())
                .getStatus().getNetwork().getIp();
        assertTrue(podIp.startsWith("10.252.0."), "pod IP from CNI: " + podIp);
        ExecSyncResponse addr = rt().execSync(ExecSyncRequest.newBuilder().setContainerId(app).setTimeout(60)
                .addAllCmd(List.of("ip", "-4", "addr", "show")).build());
        assertTrue(addr.getStdout().toStringUtf8().contains(podIp + "/24"), addr.getStdout().toStringUtf8());
        assertTrue(java.net.InetAddress.getByName(podIp).isReachable(30_000), "the node reaches pod IP " + podIp);

        ExecSyncResponse exec = rt().execSync(ExecSyncRequest.newBuilder().setContainerId(app).setTimeout(60)
                .addAllCmd(List.of("sh", "-c", "echo $GREETING; cat /proc/1/comm; echo err >&2; exit 7")).build());
        assertEquals("cri\nsleep\n", exec.getStdout().toStringUtf8(), "env from the request, the container's pid 1");
        assertEquals("err\n", exec.getStderr().toStringUtf8());
        assertEquals(7, exec.getExitCode());

        // kubectl exec's path: Exec answers a streaming URL, the client upgrades it (WebSocket, v5.channel.k8s.io)
        // and talks to a shell in the container: stdin in, stdout out, the exit code in the final status.
        String url = rt().exec(ExecRequest.newBuilder().setContainerId(app).setStdin(true).setStdout(true)
                .setStderr(true).addAllCmd(List.of("sh", "-c", "read x; echo in $(hostname): $x; echo to-stderr >&2; exit 4"))
                .build()).getUrl();
        String[] channels = WebSocketTestClient.exchange(url, "typed\n", 60, 120);
        assertEquals("in web-pod: typed\n", channels[1], "stderr " + channels[2] + ", status " + channels[3]);
        assertEquals("to-stderr\n", channels[2]);
        assertTrue(channels[3].contains("{\"reason\":\"ExitCode\",\"message\":\"4\"}"), channels[3]);

        // kubectl port-forward: PortForward answers a URL; over SPDY (portforward.k8s.io) a data stream reaches the
        // pod's port through its CNI address: busybox httpd in a container of the pod serves its /etc/image-name.
        String web = rt().createContainer(CreateContainerRequest.newBuilder().setPodSandboxId(pod)
                .setSandboxConfig(podConfig).setConfig(ContainerConfig.newBuilder()
                        .setMetadata(ContainerMetadata.newBuilder().setName("web"))
                        .setImage(ImageSpec.newBuilder().setImage(imageId))
                        .addAllCommand(List.of("httpd", "-f", "-p", "8080", "-h", "/etc")))
                .build()).getContainerId();
        rt().startContainer(StartContainerRequest.newBuilder().setContainerId(web).build());
        String forwardUrl = rt().portForward(PortForwardRequest.newBuilder().setPodSandboxId(pod).addPort(8080).build())
                .getUrl();
        String answer = "";
        for (int attempt = 0; attempt < 20 && !answer.contains(" 200 OK"); attempt++) {
            if (attempt > 0) {
                Thread.sleep(500); // httpd may not listen yet
                forwardUrl = rt().portForward(PortForwardRequest.newBuilder().setPodSandboxId(pod).addPort(8080)
                        .build()).getUrl();
            }
            answer = PortForwardClient.exchange(forwardUrl, 8080, "GET /image-name HTTP/1.0\r\n\r\n");
        }
        assertTrue(answer.contains(" 200 OK"), "through the forwarded port: " + answer);
        rt().removeContainer(RemoveContainerRequest.newBuilder().setContainerId(web).build());

        // kubectl attach (and kubectl run -i): a container created with stdin gets the client's input on its main
        // process and sends its output back; its end ends the attach with Success. One without stdin reads EOF.
        String talker = rt().createContainer(CreateContainerRequest.newBuilder().setPodSandboxId(pod)
                .setSandboxConfig(podConfig).setConfig(ContainerConfig.newBuilder()
                        .setMetadata(ContainerMetadata.newBuilder().setName("talker")).setStdin(true)
                        .setImage(ImageSpec.newBuilder().setImage(imageId))
                        .addAllCommand(List.of("sh", "-c", "read line; echo heard $line")))
                .build()).getContainerId();
        String deaf = rt().createContainer(CreateContainerRequest.newBuilder().setPodSandboxId(pod)
                .setSandboxConfig(podConfig).setConfig(ContainerConfig.newBuilder()
                        .setMetadata(ContainerMetadata.newBuilder().setName("deaf"))
                        .setImage(ImageSpec.newBuilder().setImage(imageId)).addCommand("cat"))
                .build()).getContainerId();
        rt().startContainer(StartContainerRequest.newBuilder().setContainerId(talker).build());
        rt().startContainer(StartContainerRequest.newBuilder().setContainerId(deaf).build());
        String[] attached = WebSocketTestClient.exchange(rt().attach(AttachRequest.newBuilder().setContainerId(talker)
                .setStdin(true).setStdout(true).setStderr(true).build()).getUrl(), "over\n", 60, 120);
        assertEquals("heard over\n", attached[1], "stderr " + attached[2] + ", status " + attached[3]);
        assertTrue(attached[3].contains("\"status\":\"Success\""), attached[3]);
        for (String id : List.of(talker, deaf)) {
            long until = System.nanoTime() + TimeUnit.SECONDS.toNanos(60);
            ContainerStatus ended;
            while ((ended = rt().containerStatus(ContainerStatusRequest.newBuilder().setContainerId(id).build())
                    .getStatus()).getState() != ContainerState.CONTAINER_EXITED && System.nanoTime() < until) {
                Thread.sleep(100);
            }
            assertEquals(ContainerState.CONTAINER_EXITED, ended.getState(), ended.getMetadata().getName()
                    + " (cat with stdin: false must read EOF at once)");
            assertEquals(0, ended.getExitCode(), ended.getMetadata().getName());
            rt().removeContainer(RemoveContainerRequest.newBuilder().setContainerId(id).build());
        }

        // A second container of the same image in the same pod (the same microVM), removed while it runs.
        String sleeper = rt().createContainer(CreateContainerRequest.newBuilder().setPodSandboxId(pod)
                .setSandboxConfig(podConfig).setConfig(ContainerConfig.newBuilder()
                        .setMetadata(ContainerMetadata.newBuilder().setName("sleeper"))
                        .setImage(ImageSpec.newBuilder().setImage(imageId)).addCommand("sleep").addArgs("600"))
                .build()).getContainerId();
        rt().startContainer(StartContainerRequest.newBuilder().setContainerId(sleeper).build());
        StatusRuntimeException twice = assertThrows(StatusRuntimeException.class, () -> rt().startContainer(
                StartContainerRequest.newBuilder().setContainerId(sleeper).build()));
        assertEquals(Status.Code.FAILED_PRECONDITION, twice.getStatus().getCode());
        // Limits inside the microVM: a shell holding 32 MiB in a variable runs without a limit, and is OOM-killed
        // (128 + 9) once UpdateContainerResources sets the container's memory.max to 16 MiB.
        List<String> hold = List.of("sh", "-c", "x=$(head -c 33554432 /dev/zero | tr '\\0' a); echo ${#x}");
        ExecSyncResponse unlimited = rt().execSync(ExecSyncRequest.newBuilder().setContainerId(sleeper).setTimeout(60)
                .addAllCmd(hold).build());
        assertEquals("33554432\n", unlimited.getStdout().toStringUtf8(), unlimited.getStderr().toStringUtf8());
        rt().updateContainerResources(UpdateContainerResourcesRequest.newBuilder().setContainerId(sleeper)
                .setLinux(LinuxContainerResources.newBuilder().setMemoryLimitInBytes(16L << 20)
                        .setCpuQuota(50_000).setCpuPeriod(100_000)).build());
        assertEquals(16L << 20, rt().containerStatus(ContainerStatusRequest.newBuilder().setContainerId(sleeper)
                .build()).getStatus().getResources().getLinux().getMemoryLimitInBytes());
        ExecSyncResponse limited = rt().execSync(ExecSyncRequest.newBuilder().setContainerId(sleeper).setTimeout(60)
                .addAllCmd(hold).build());
        assertEquals(137, limited.getExitCode(), "OOM-killed under 16 MiB; stdout " + limited.getStdout().toStringUtf8()
                + " stderr " + limited.getStderr().toStringUtf8());
        StatusRuntimeException tooBig = assertThrows(StatusRuntimeException.class, () -> rt().updateContainerResources(
                UpdateContainerResourcesRequest.newBuilder().setContainerId(sleeper).setLinux(LinuxContainerResources
                        .newBuilder().setMemoryLimitInBytes(64L << 30)).build()));
        assertEquals(Status.Code.FAILED_PRECONDITION, tooBig.getStatus().getCode(), tooBig.getMessage());

        rt().removeContainer(RemoveContainerRequest.newBuilder().setContainerId(sleeper).build());
        assertEquals(Status.Code.NOT_FOUND, assertThrows(StatusRuntimeException.class, () -> rt().containerStatus(
                ContainerStatusRequest.newBuilder().setContainerId(sleeper).build())).getStatus().getCode());

        // Stop with a grace period: sleep is its pid namespace's init and has no SIGTERM handler, so the kernel
        // drops the SIGTERM; after the grace period SIGKILL ends it (128 + 9), as with any runtime.
        long stopAt = System.nanoTime();
        rt().stopContainer(StopContainerRequest.newBuilder().setContainerId(app).setTimeout(3).build());
        assertTrue(System.nanoTime() - stopAt >= TimeUnit.SECONDS.toNanos(3), "the grace period was given");
        status = rt().containerStatus(ContainerStatusRequest.newBuilder().setContainerId(app).build()).getStatus();
        assertEquals(ContainerState.CONTAINER_EXITED, status.getState());
        assertEquals(137, status.getExitCode(), status.getReason() + " " + status.getMessage());
        assertTrue(status.getFinishedAt() >= status.getStartedAt());

        rt().stopPodSandbox(StopPodSandboxRequest.newBuilder().setPodSandboxId(pod).build());
        assertTrue(!Files.exists(Path.of("/var/run/netns/flotilla-" + pod.substring(0, 16))),
                "StopPodSandbox ran CNI DEL and removed the pod's network namespace");
        assertEquals(PodSandboxState.SANDBOX_NOTREADY, rt().podSandboxStatus(PodSandboxStatusRequest.newBuilder()
                .setPodSandboxId(pod).build()).getStatus().getState());
        rt().removeContainer(RemoveContainerRequest.newBuilder().setContainerId(app).build());
        rt().removePodSandbox(RemovePodSandboxRequest.newBuilder().setPodSandboxId(pod).build());
        assertEquals(Status.Code.NOT_FOUND, assertThrows(StatusRuntimeException.class, () -> rt().podSandboxStatus(
                PodSandboxStatusRequest.newBuilder().setPodSandboxId(pod).build())).getStatus().getCode());
        assertEquals(List.of(), rt().listPodSandbox(ListPodSandboxRequest.getDefaultInstance()).getItemsList());
    }

    private List<String> awaitLines(Path log, int count) throws Exception {
        long until = System.nanoTime() + TimeUnit.SECONDS.toNanos(120);
        while (true) {
            if (Files.exists(log)) {
                List<String> lines = Files.readAllLines(log);
                if (lines.size() >= count) {
                    return lines;
                }
            }
            assertTrue(System.nanoTime() < until, "fewer than " + count + " lines in " + log + " after 120 s: "
                    + (Files.exists(log) ? Files.readString(log) : "no file"));
            Thread.sleep(100);
        }
    }
}
