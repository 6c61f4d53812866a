package dev.flotilla.tests.linux;

import dev.flotilla.agent.client.AgentClient;
import dev.flotilla.agent.client.AgentDisconnectedException;
import dev.flotilla.agent.client.AgentErrorException;
import dev.flotilla.agent.client.CapturedOutput;
import dev.flotilla.agent.protocol.ContainerSpec;
import dev.flotilla.agent.protocol.CreateSandbox;
import dev.flotilla.agent.protocol.ErrorCode;
import dev.flotilla.agent.protocol.ExitStatus;
import dev.flotilla.agent.protocol.Namespaces;
import dev.flotilla.agent.protocol.OomEvent;
import dev.flotilla.agent.protocol.Process;
import dev.flotilla.agent.protocol.Resources;
import dev.flotilla.agent.protocol.Rlimit;
import dev.flotilla.agent.protocol.Root;
import dev.flotilla.agent.protocol.Stats;
import dev.flotilla.vmm.MicroVm;
import dev.flotilla.vmm.VmConfig;
import dev.flotilla.vmm.devices.virtio.blk.BlockDeviceConfig;
import dev.flotilla.vmm.devices.virtio.vsock.VsockDeviceConfig;
import dev.flotilla.vmm.devices.virtio.vsock.VsockHost;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.MethodOrderer;
import org.junit.jupiter.api.Order;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestInstance;
import org.junit.jupiter.api.TestMethodOrder;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.MessageDigest;
import java.time.Duration;
import java.util.HexFormat;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.TimeUnit;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;

/**
 * Containers in a real Linux microVM, driven from Java: the guest agent (PID 1's supervised
 * child, flotilla.exit=agent) over our vsock device, a container image built here from
 * busybox-static into an ext4 disk (virtio-blk), and the Java client. One VM serves every
 * scenario (a boot costs tens of seconds in the lab); the destructive ones (agent killed, VM
 * shut down) run last.
 */
@TestInstance(TestInstance.Lifecycle.PER_CLASS)
@TestMethodOrder(MethodOrderer.OrderAnnotation.class)
class GuestAgentE2E {

    static final long GUEST_CID = 7;
    static final Duration AGENT_TIMEOUT = Duration.ofSeconds(180);
    static final Duration RUN_TIMEOUT = Duration.ofSeconds(60);
    static final String PATH_ENV = "PATH=/usr/sbin:/usr/bin:/sbin:/bin";

    Path dir;
    Path image;
    String imageDigest;
    Console console;
    MicroVm vm;
    AgentClient agent;
    final LinkedBlockingQueue<OomEvent> ooms = new LinkedBlockingQueue<>();

    @BeforeAll
    void bootVmAndConnect() throws Exception {
        dir = Files.createTempDirectory("fl-agent");
        image = buildBusyboxImage(dir);
        imageDigest = sha256(image);
        console = new Console();
        VmConfig config = VmConfig.builder().vcpus(2).memoryMib(256)
                .kernel(GuestArtifacts.vmlinux()).initrd(GuestArtifacts.initrd())
                .cmdline(GuestArtifacts.cmdline("flotilla.exit=agent"))
                .consoleOutput(console)
                .device(VsockDeviceConfig.of(GUEST_CID))
                // Writable on purpose: the test proves that the guest never writes to it.
                .device(BlockDeviceConfig.of(image, false))
                .build();
        vm = MicroVm.create(config);
        vm.start();
        try {
            agent = AgentClient.connect(vm.vsock().orElseThrow(), AGENT_TIMEOUT);
        } catch (Exception e) {
            console.save("agent-connect");
            throw new AssertionError("cannot reach the guest agent: " + e.getMessage() + "\nconsole:\n" + console.text(), e);
        }
        agent.onOom(ooms::add);
    }

    @AfterAll
    void tearDown() throws IOException {
        if (agent != null) {
            agent.close();
        }
        if (vm != null) {
            vm.close();
        }
        if (console != null) {
            console.save("guest-agent");
        }
        try (var s = Files.walk(dir)) {
            for (Path p : s.sorted(java.util.Comparator.reverseOrder()).toList()) {
                Files.deleteIfExists(p);
            }
        }
    }

    /** An image with busybox-static and a symlink per applet, as mke2fs -d writes it (no root needed). */
    static Path buildBusyboxImage(Path dir) throws Exception {
        Path root = dir.resolve("rootfs");
        Path bin = Files.createDirectories(root.resolve("bin"));
        for (String d : List.of("etc", "tmp", "proc", "sys", "dev", "root", "usr/bin", "sbin", "usr/sbin")) {
            Files.createDirectories(root.resolve(d));
        }
        Files.copy(Path.of("/bin/busybox"), bin.resolve("busybox"));
        Files.writeString(root.resolve("etc/image-release"), "flotilla-e2e-busybox\n");
        String applets = run(List.of("/bin/busybox", "--list"));
        for (String applet : applets.split("\n")) {
            if (!applet.isBlank() && !applet.equals("busybox")) {
                Files.createSymbolicLink(bin.resolve(applet.strip()), Path.of("busybox"));
            }
        }
        Path img = dir.resolve("busybox.ext4");
        run(List.of(mke2fs(), "-q", "-F", "-t", "ext4", "-L", "e2e-image", "-d", root.toString(), img.toString(), "16M"));
        return img;
    }

    static String mke2fs() {
        for (String p : List.of("/sbin/mke2fs", "/usr/sbin/mke2fs")) {
            if (Files.isExecutable(Path.of(p))) {
                return p;
            }
        }
        throw new IllegalStateException("mke2fs not found: install the Debian package e2fsprogs");
    }

    static String run(List<String> command) throws Exception {
        java.lang.Process p = new ProcessBuilder(command).redirectErrorStream(true).start();
        String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
        if (!p.waitFor(60, TimeUnit.SECONDS) || p.exitValue() != 0) {
            throw new IllegalStateException(command + " failed: " + out);
        }
        return out;
    }

    static String sha256(Path file) throws Exception {
        return HexFormat.of().formatHex(MessageDigest.getInstance("SHA-256").digest(Files.readAllBytes(file)));
    }

    static Process.Builder shell(String script) {
        return Process.newBuilder().addArgs("sh").addArgs("-c").addArgs(script).addEnv(PATH_ENV).setCwd("/");
    }

    static ContainerSpec.Builder spec(Process.Builder process) {
        return ContainerSpec.newBuilder().setProcess(process)
                .setRoot(Root.newBuilder().setDevice("/dev/vda").setFsType("ext4"))
                .setNamespaces(Namespaces.newBuilder().setPid(true).setUts(true).setIpc(true));
    }

    /** Creates and starts a container, returning its captured output. */
    CapturedOutput runContainer(String id, ContainerSpec spec) throws Exception {
        CapturedOutput out = new CapturedOutput();
        agent.createContainer(id, spec, out);
        agent.startContainer(id);
        return out;
    }

    /** The first two lines a still running container printed. */
    String[] twoLines(CapturedOutput out, String what) throws Exception {
        long until = System.nanoTime() + RUN_TIMEOUT.toNanos();
        while (out.stdout().split("\n").length < 2 || !out.stdout().endsWith("\n")) {
            if (System.nanoTime() > until) {
                console.save("guest-agent");
                throw new AssertionError(what + " printed no two lines: stdout " + out.stdout() + ", stderr " + out.stderr());
            }
            Thread.sleep(50);
        }
        return out.stdout().split("\n");
    }

    ExitStatus exitOf(CapturedOutput out, String what) throws Exception {
        try {
            return out.awaitExit(RUN_TIMEOUT);
        } catch (Exception e) {
            console.save("guest-agent");
            throw new AssertionError(what + ": " + e.getMessage() + "\nstdout: " + out.stdout() + "\nstderr: " + out.stderr(), e);
        }
    }

    @Test
    @Order(1)
    void container_printsAndExits_outputAndExitCodeReachTheHost() throws Exception {
        CapturedOutput out = runContainer("hello", spec(shell("echo hello from $(hostname) as pid $$; echo to-stderr >&2; exit 7")
                .addRlimits(Rlimit.newBuilder().setType("RLIMIT_NOFILE").setSoft(256).setHard(512))).build());
        ExitStatus status = exitOf(out, "container hello");
        assertEquals(7, status.getExitCode());
        assertEquals(0, status.getSignal());
        assertEquals("hello from hello as pid 1\n", out.stdout(), "its own uts and pid namespaces");
        assertEquals("to-stderr\n", out.stderr());
        assertEquals(7, agent.waitFor("hello", "", RUN_TIMEOUT).getExitCode(), "Wait after the exit answers at once");
        agent.deleteContainer("hello");
    }

    @Test
    @Order(2)
    void createSandbox_hostnameAndDns_seenByContainers() throws Exception {
        agent.createSandbox(CreateSandbox.newBuilder().setHostname("sbx-e2e").addDnsServers("10.0.0.53").addDnsSearch("flotilla.test").build());
        ContainerSpec.Builder s = spec(shell("hostname; cat /etc/resolv.conf; ulimit -n"))
                .setNamespaces(Namespaces.newBuilder().setPid(true));
        s.getProcessBuilder().addRlimits(Rlimit.newBuilder().setType("RLIMIT_NOFILE").setSoft(321).setHard(321));
        CapturedOutput out = runContainer("dns", s.build());
        assertEquals(0, exitOf(out, "container dns").getExitCode(), out.stderr());
        assertEquals("sbx-e2e\nnameserver 10.0.0.53\nsearch flotilla.test\n321\n", out.stdout());
        agent.deleteContainer("dns");
    }

    @Test
    @Order(3)
    void exec_intoRunningContainer_sharesItsNamespacesAndStdin() throws Exception {
        CapturedOutput main = runContainer("svc", spec(shell("echo ready; exec sleep 600")).setHostname("svc-host").build());
        assertTrue(main.awaitStdout("ready", RUN_TIMEOUT), "container svc never said ready: " + main.stderr());
        CapturedOutput exec = new CapturedOutput();
        agent.exec("svc", "probe", shell("hostname; cat /proc/1/comm; read line; echo got:$line").build(), exec);
        agent.writeStdin("svc", "probe", "from-the-host\n".getBytes(StandardCharsets.UTF_8));
        agent.closeStdin("svc", "probe");
        assertEquals(0, exitOf(exec, "exec probe").getExitCode(), exec.stderr());
        assertEquals("svc-host\nsleep\ngot:from-the-host\n", exec.stdout(), "the exec sees the container's hostname and pid 1");
    }

    @Test
    @Order(4)
    void exec_withTerminal_sizeAndResizeVisible() throws Exception {
        CapturedOutput tty = new CapturedOutput();
        agent.exec("svc", "tty", shell("stty size; read x; stty size").setTerminal(true).setTtyRows(30).setTtyCols(100).build(), tty);
        assertTrue(tty.awaitStdout("30 100", RUN_TIMEOUT), "initial terminal size; output: " + tty.stdout());
        agent.resizeTty("svc", "tty", 40, 120);
        agent.writeStdin("svc", "tty", "go\n".getBytes(StandardCharsets.UTF_8));
        assertEquals(0, exitOf(tty, "exec tty").getExitCode(), tty.stdout());
        assertTrue(tty.stdout().contains("40 120"), "resized terminal; output: " + tty.stdout());
    }

    @Test
    @Order(5)
    void stats_runningContainer_reportMemoryAndCpu() throws Exception {
        ContainerSpec s = spec(shell("dd if=/dev/zero of=/tmp/fill bs=1M count=8 2>/dev/null; echo filled; exec sleep 600"))
                .setResources(Resources.newBuilder().setMemoryLimitBytes(64L << 20).setCpuQuotaUs(50_000).setCpuPeriodUs(100_000).setPidsLimit(64))
                .build();
        CapturedOutput out = runContainer("mem", s);
        assertTrue(out.awaitStdout("filled", RUN_TIMEOUT), "container mem never filled its tmp: " + out.stderr());
        Stats stats = agent.stats("mem");
        assertTrue(stats.getMemoryCurrentBytes() >= 8L << 20, "8 MiB written to the container's tmpfs layer are charged: " + stats);
        assertEquals(64L << 20, stats.getMemoryMaxBytes(), "memory.max");
        assertTrue(stats.getCpuUsageUsec() > 0, "cpu usage: " + stats);
        assertTrue(stats.getPidsCurrent() >= 1, "pids: " + stats);
        agent.deleteContainer("mem");
    }

    @Test
    @Order(6)
    void signal_killRunningContainer_exitReportsTheSignal() throws Exception {
        CapturedOutput out = runContainer("victim", spec(shell("echo up; exec sleep 600")).build());
        assertTrue(out.awaitStdout("up", RUN_TIMEOUT));
        CompletableFuture<ExitStatus> waiting = agent.waitAsync("victim", "");
        agent.signal("victim", "", 9);
        ExitStatus status = waiting.get(RUN_TIMEOUT.toSeconds(), TimeUnit.SECONDS);
        assertEquals(9, status.getSignal());
        assertEquals(137, status.getExitCode());
        agent.deleteContainer("victim");
    }

    @Test
    @Order(7)
    void twoContainers_shareTheVmNetworkNamespace() throws Exception {
        // Both containers stay alive while compared: the namespace of one that exited is freed, and the kernel may
        // hand its inode number to the next container's new namespace.
        String print = "readlink /proc/self/ns/net; readlink /proc/self/ns/uts; exec sleep 600";
        CapturedOutput a = runContainer("net-a", spec(shell(print)).build());
        CapturedOutput b = runContainer("net-b", spec(shell(print)).build());
        String[] la = twoLines(a, "net-a");
        String[] lb = twoLines(b, "net-b");
        assertTrue(la[0].startsWith("net:["), a.stdout());
        assertEquals(la[0], lb[0], "one network namespace for the sandbox");
        assertTrue(!la[1].equals(lb[1]), "but separate uts namespaces: " + la[1] + " vs " + lb[1]);
        agent.deleteContainer("net-a");
        agent.deleteContainer("net-b");
    }

    @Test
    @Order(8)
    void containerWrites_neverReachTheImage() throws Exception {
        CapturedOutput writer = runContainer("writer",
                spec(shell("echo leaked > /etc/leak && rm /etc/image-release && echo x > /bin/newfile && ls /etc")).build());
        assertEquals(0, exitOf(writer, "writer").getExitCode(), writer.stderr());
        assertTrue(writer.stdout().contains("leak") && !writer.stdout().contains("image-release"), writer.stdout());
        CapturedOutput reader = runContainer("reader",
                spec(shell("test ! -e /etc/leak && test ! -e /bin/newfile && cat /etc/image-release")).build());
        assertEquals(0, exitOf(reader, "reader").getExitCode(), "a fresh container sees the pristine image: " + reader.stderr());
        assertEquals("flotilla-e2e-busybox\n", reader.stdout());
        agent.deleteContainer("writer");
        agent.deleteContainer("reader");
    }

    @Test
    @Order(9)
    void oom_containerOverItsMemoryLimit_killedAndReported() throws Exception {
        ContainerSpec s = spec(shell("dd if=/dev/zero of=/dev/shm/fill bs=1M count=64; echo survived"))
                .setResources(Resources.newBuilder().setMemoryLimitBytes(16L << 20)).build();
        CapturedOutput out = runContainer("hog", s);
        exitOf(out, "hog");
        OomEvent event = ooms.poll(RUN_TIMEOUT.toSeconds(), TimeUnit.SECONDS);
        assertNotNull(event, "no OOM event; stdout: " + out.stdout() + " stderr: " + out.stderr());
        assertEquals("hog", event.getContainerId());
        assertTrue(event.getOomKills() >= 1);
        assertTrue(agent.stats("hog").getOomKills() >= 1);
        agent.deleteContainer("hog");
    }

    @Test
    @Order(10)
    void badRequests_failWithClearErrors() throws Exception {
        AgentErrorException noDevice = assertThrows(AgentErrorException.class, () -> agent.createContainer("nodev",
                ContainerSpec.newBuilder(spec(shell("true")).build()).setRoot(Root.newBuilder().setDevice("/dev/vdz").setFsType("ext4")).build(),
                new CapturedOutput()));
        assertTrue(noDevice.getMessage().contains("cannot mount the image /dev/vdz (ext4) read-only"), noDevice.getMessage());
        AgentErrorException missing = assertThrows(AgentErrorException.class,
                () -> agent.exec("nosuch", "e", shell("true").build(), new CapturedOutput()));
        assertEquals(ErrorCode.NOT_FOUND, missing.code());
        AgentErrorException badExec = assertThrows(AgentErrorException.class,
                () -> agent.exec("svc", "bad", Process.newBuilder().addArgs("/no/such/program").addEnv(PATH_ENV).build(), new CapturedOutput()));
        assertTrue(badExec.getMessage().contains("cannot execute /no/such/program"), badExec.getMessage());
        assertTrue(agent.isConnected());
    }

    @Test
    @Order(20)
    void agentKilledMidCommand_pendingCallFailsClearlyAndAgentComesBack() throws Exception {
        // Without a pid namespace the container sees the agent as its parent, and kills it.
        ContainerSpec s = spec(shell("sleep 1; kill -9 $PPID; exec sleep 600")).setNamespaces(Namespaces.newBuilder()).build();
        runContainer("killer", s);
        CompletableFuture<ExitStatus> waiting = agent.waitAsync("killer", "");
        ExecutionException e = assertThrows(ExecutionException.class, () -> waiting.get(RUN_TIMEOUT.toSeconds(), TimeUnit.SECONDS));
        AgentDisconnectedException d = assertInstanceOf(AgentDisconnectedException.class, e.getCause());
        assertTrue(d.getMessage().startsWith("Wait for container killer failed: guest agent at vsock 7:1024"), d.getMessage());
        assertThrows(AgentDisconnectedException.class, () -> agent.stats("killer"));
        // flotilla-init restarts the agent; a new connection works.
        VsockHost host = vm.vsock().orElseThrow();
        agent = AgentClient.connect(host, Duration.ofSeconds(60));
        assertEquals(1, agent.agentHello().getProtocolVersion());
        assertTrue(console.text().contains("was killed by signal 9; restarting it"), "init's supervision message");
    }

    @Test
    @Order(30)
    void shutdown_endsTheVm() throws Exception {
        agent.shutdown();
        assertTrue(vm.awaitExit(RUN_TIMEOUT).isPresent(), "the VM did not end after Shutdown; console:\n" + console.text());
        assertEquals(imageDigest, sha256(image), "the image file is byte for byte what was attached");
    }
}
