package dev.flotilla.tests.linux;

import dev.flotilla.agent.protocol.ExitStatus;
import dev.flotilla.agent.protocol.Stream;
import dev.flotilla.containers.ContainerException;
import dev.flotilla.containers.ContainerImages;
import dev.flotilla.containers.ContainerLauncher;
import dev.flotilla.containers.ContainerLog;
import dev.flotilla.containers.ContainerSandbox;
import dev.flotilla.containers.bench.BusyboxImage;
import dev.flotilla.containers.bench.LoopbackRegistry;
import dev.flotilla.images.ImageStore;
import dev.flotilla.images.StoreConfig;
import dev.flotilla.vmm.boot.LinuxBoot;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.MethodOrderer;
import org.junit.jupiter.api.Order;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestInstance;
import org.junit.jupiter.api.TestMethodOrder;

import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Optional;
import java.util.Set;
import java.util.concurrent.TimeUnit;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * "Run this image" through the container library the node agent uses: a real registry on loopback (Debian's
 * docker-registry) holding an image this test builds from busybox-static and pushes with skopeo; the image store
 * pulls it and makes its erofs root; a Linux microVM boots with that root read-only and the guest agent; the
 * container runs the image's Entrypoint/Cmd/Env/WorkingDir. One VM serves every scenario (boots are slow in the lab).
 */
@TestInstance(TestInstance.Lifecycle.PER_CLASS)
@TestMethodOrder(MethodOrderer.OrderAnnotation.class)
class ContainerE2E {
    static final Duration TIMEOUT = Duration.ofSeconds(180);
    static final Duration RUN_TIMEOUT = Duration.ofSeconds(60);

    Path dir;
    LoopbackRegistry registry;
    String registryAddress;
    ContainerImages images;
    ContainerLauncher launcher;
    Console console;
    ContainerLauncher.Launched launched;

    @BeforeAll
    void startRegistryPushImageAndLaunch() throws Exception {
        dir = Files.createTempDirectory("fl-container");
        registry = LoopbackRegistry.start(dir.resolve("registry"));
        registryAddress = registry.address();
        Path layout = BusyboxImage.writeLayout(dir.resolve("layout"), "v1",
                "echo $GREETING from the image in $(pwd) as $(id -u):$(id -g) on $(hostname); exit 3");
        registry.push(layout, "v1", "e2e/hello:v1");
        ImageStore store = ImageStore.open(StoreConfig.defaults(dir.resolve("store")).withPlainHttpRegistries(Set.of(registryAddress)));
        images = new ContainerImages(store);
        launcher = new ContainerLauncher(images, new ContainerLauncher.Guest(GuestArtifacts.vmlinux(),
                Optional.of(GuestArtifacts.initrd()), GuestArtifacts.cmdline(""), 2, 256), LinuxBoot::load);
        console = new Console();
        try {
            launched = launcher.launch("e2e-box", registryAddress + "/e2e/hello:v1", List.of(), console, TIMEOUT, true);
        } catch (RuntimeException e) {
            console.save("container-launch");
            throw new AssertionError("cannot launch the image: " + e.getMessage() + "\nconsole:\n" + console.text(), e);
        }
    }

    @AfterAll
    void tearDown() throws Exception {
        if (launched != null) {
            launched.close();
        }
        if (console != null) {
            console.save("container");
        }
        if (registry != null) {
            registry.close();
        }
        try (var s = Files.walk(dir)) {
            for (Path p : s.sorted(java.util.Comparator.reverseOrder()).toList()) {
                Files.deleteIfExists(p);
            }
        }
    }

    @Test
    @Order(1)
    void imageDefaults_printToStdout_exitCodePropagates() throws Exception {
        ExitStatus status = launched.container().log().exit().get(RUN_TIMEOUT.toSeconds(), TimeUnit.SECONDS);
        String out = launched.container().log().text(Stream.STDOUT);
        assertEquals(3, status.getExitCode(), "the image's command exits 3; output: " + out + launched.container().log().text(Stream.STDERR));
        assertEquals("hello from the image in /srv as 1000:1000 on e2e-box\n", out,
                "Entrypoint+Cmd, Env, WorkingDir, User and the sandbox hostname");
        assertTrue(launched.image().pulled(), "first use pulls from the registry");
        assertTrue(launched.phases().vmBootNanos() > 0 && launched.phases().agentReadyNanos() > 0);
    }

    @Test
    @Order(2)
    void requestCommand_replacesCmd_keepsEntrypoint() throws Exception {
        ContainerSandbox.Container c = launched.sandbox().run("second", List.of("echo from-request $GREETING"), List.of("GREETING=override"));
        ExitStatus status = c.log().exit().get(RUN_TIMEOUT.toSeconds(), TimeUnit.SECONDS);
        assertEquals(0, status.getExitCode(), c.log().text());
        assertEquals("from-request override\n", c.log().text(Stream.STDOUT));
    }

    @Test
    @Order(3)
    void exec_inRunningContainer_seesItsNamespaces() throws Exception {
        ContainerSandbox.Container svc = launched.sandbox().run("svc", List.of("echo ready; exec sleep 600"), List.of());
        assertTrue(svc.log().awaitText("ready", RUN_TIMEOUT), "svc never said ready: " + svc.log().text());
        ContainerLog exec = launched.sandbox().exec("svc", "probe", List.of("sh", "-c", "cat /proc/1/comm; pwd; cat /etc/image-name"));
        ExitStatus status = exec.exit().get(RUN_TIMEOUT.toSeconds(), TimeUnit.SECONDS);
        assertEquals(0, status.getExitCode(), exec.text());
        assertEquals("sleep\n/srv\nflotilla-e2e-hello\n", exec.text(Stream.STDOUT));
    }

    @Test
    @Order(4)
    void signal_killsTheContainer_exitReportsIt() throws Exception {
        // SIGKILL: the container's process is pid 1 of its pid namespace, where signals without a handler
        // (SIGTERM to a plain sleep) are ignored, as in any container runtime.
        launched.sandbox().signal("svc", 9);
        ExitStatus status = launched.sandbox().container("svc").log().exit().get(RUN_TIMEOUT.toSeconds(), TimeUnit.SECONDS);
        assertEquals(9, status.getSignal());
        assertEquals(137, status.getExitCode());
    }

    @Test
    @Order(5)
    void follow_afterExit_deliversBacklogThenEnd() throws Exception {
        StringBuilder seen = new StringBuilder();
        ExitStatus[] end = new ExitStatus[1];
        launched.sandbox().container("main").log().follow(new ContainerLog.Follower() {
            @Override
            public void onChunk(ContainerLog.Chunk chunk) {
                seen.append(chunk.text());
            }

            @Override
            public void onEnd(ExitStatus status, dev.flotilla.agent.client.AgentException cause) {
                end[0] = status;
            }
        });
        assertTrue(seen.toString().startsWith("hello from the image"), seen.toString());
        assertEquals(3, end[0].getExitCode());
    }

    @Test
    @Order(6)
    void unknownImage_failsWithClearError() {
        ContainerException e = assertThrows(ContainerException.class, () -> images.prepare(registryAddress + "/e2e/nosuch:v1"));
        assertTrue(e.getMessage().startsWith("cannot prepare image " + registryAddress + "/e2e/nosuch:v1: "), e.getMessage());
        ContainerException bad = assertThrows(ContainerException.class, () -> images.prepare("UPPER/Case::bad"));
        assertTrue(bad.getMessage().startsWith("image reference 'UPPER/Case::bad' is invalid: "), bad.getMessage());
    }

    @Test
    @Order(7)
    void storedImage_secondPrepare_doesNotPullAgain() {
        assertTrue(!images.prepare(registryAddress + "/e2e/hello:v1").pulled());
    }

    @Test
    @Order(20)
    void guestGoesDown_runningContainerAndSandboxReportTheLostAgent() throws Exception {
        ContainerSandbox.Container longRunning = launched.sandbox().run("long", List.of("echo up; exec sleep 600"), List.of());
        assertTrue(longRunning.log().awaitText("up", RUN_TIMEOUT), longRunning.log().text());
        launched.sandbox().shutdown();
        java.util.concurrent.ExecutionException e = assertThrows(java.util.concurrent.ExecutionException.class,
                () -> longRunning.log().exit().get(RUN_TIMEOUT.toSeconds(), TimeUnit.SECONDS));
        assertTrue(e.getCause() instanceof dev.flotilla.agent.client.AgentDisconnectedException, String.valueOf(e.getCause()));
        assertTrue(launched.sandbox().lostReason() != null && launched.sandbox().lostReason().contains("guest agent at vsock"),
                "the sandbox says why its agent is gone: " + launched.sandbox().lostReason());
        assertTrue(launched.vm().awaitExit(RUN_TIMEOUT).isPresent(), "the VM ended after Shutdown");
        ContainerException after = assertThrows(ContainerException.class, () -> launched.sandbox().run("late", List.of(), List.of()));
        assertTrue(after.getMessage().startsWith("sandbox e2e-box: cannot create container late: "), after.getMessage());
    }
}
