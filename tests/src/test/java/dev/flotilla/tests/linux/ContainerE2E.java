package dev.flotilla.tests.linux;

import dev.flotilla.agent.protocol.ExitStatus;
import dev.flotilla.agent.protocol.Stream;
import dev.flotilla.containers.ContainerException;
import dev.flotilla.containers.ContainerImages;
import dev.flotilla.containers.ContainerLauncher;
import dev.flotilla.containers.ContainerLog;
import dev.flotilla.containers.ContainerSandbox;
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

import java.io.IOException;
import java.net.ServerSocket;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.MessageDigest;
import java.time.Duration;
import java.util.HexFormat;
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
    Process registry;
    String registryAddress;
    ContainerImages images;
    ContainerLauncher launcher;
    Console console;
    ContainerLauncher.Launched launched;

    @BeforeAll
    void startRegistryPushImageAndLaunch() throws Exception {
        dir = Files.createTempDirectory("fl-container");
        registryAddress = startRegistry(dir.resolve("registry"));
        Path layout = buildImageLayout(dir.resolve("layout"));
        run(List.of("skopeo", "copy", "--quiet", "--dest-tls-verify=false",
                "oci:" + layout + ":v1", "docker://" + registryAddress + "/e2e/hello:v1"));
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
            registry.destroy();
            registry.waitFor(10, TimeUnit.SECONDS);
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
        launched.sandbox().signal("svc", 15);
        ExitStatus status = launched.sandbox().container("svc").log().exit().get(RUN_TIMEOUT.toSeconds(), TimeUnit.SECONDS);
        assertEquals(15, status.getSignal());
        assertEquals(143, status.getExitCode());
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

    // --- the registry and the image -----------------------------------------------------------------------------

    /** Debian's docker-registry on a free loopback port, storage under {@code dir}. */
    String startRegistry(Path dir) throws Exception {
        Files.createDirectories(dir.resolve("storage"));
        int port;
        try (ServerSocket s = new ServerSocket(0)) {
            port = s.getLocalPort();
        }
        Path config = dir.resolve("config.yml");
        Files.writeString(config, """
                version: 0.1
                log:
                  level: warn
                storage:
                  filesystem:
                    rootdirectory: %s
                http:
                  addr: 127.0.0.1:%d
                """.formatted(dir.resolve("storage"), port));
        registry = new ProcessBuilder("docker-registry", "serve", config.toString()).redirectErrorStream(true)
                .redirectOutput(dir.resolve("registry.log").toFile()).start();
        String address = "127.0.0.1:" + port;
        HttpClient http = HttpClient.newHttpClient();
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(60);
        while (System.nanoTime() < deadline) {
            if (!registry.isAlive()) {
                throw new IOException("docker-registry exited: " + Files.readString(dir.resolve("registry.log")));
            }
            try {
                if (http.send(HttpRequest.newBuilder(URI.create("http://" + address + "/v2/")).build(),
                        HttpResponse.BodyHandlers.discarding()).statusCode() == 200) {
                    return address;
                }
            } catch (IOException notYet) {
                // starting
            }
            Thread.sleep(100);
        }
        throw new IOException("docker-registry did not answer on " + address + " within 60 s");
    }

    /**
     * An OCI image layout (oci-layout, index.json, blobs) with one gzip layer: busybox-static with an applet
     * symlink per command, owned by root, and a config with Entrypoint, Cmd, Env, WorkingDir and User.
     */
    static Path buildImageLayout(Path layout) throws Exception {
        Path root = layout.resolveSibling("rootfs");
        Path bin = Files.createDirectories(root.resolve("bin"));
        for (String d : List.of("etc", "tmp", "proc", "sys", "dev", "srv")) {
            Files.createDirectories(root.resolve(d));
        }
        Files.copy(Path.of("/bin/busybox"), bin.resolve("busybox"));
        Files.writeString(root.resolve("etc/image-name"), "flotilla-e2e-hello\n");
        for (String applet : run(List.of("/bin/busybox", "--list")).split("\n")) {
            if (!applet.isBlank() && !applet.equals("busybox")) {
                Files.createSymbolicLink(bin.resolve(applet.strip()), Path.of("busybox"));
            }
        }
        Path tar = layout.resolveSibling("layer.tar");
        run(List.of("tar", "--create", "--file", tar.toString(), "--directory", root.toString(), "--owner=0", "--group=0",
                "--numeric-owner", "--sort=name", "--format=posix", "."));
        byte[] layerTar = Files.readAllBytes(tar);
        Files.createDirectories(layout.resolve("blobs/sha256"));
        Files.writeString(layout.resolve("oci-layout"), "{\"imageLayoutVersion\":\"1.0.0\"}");
        java.io.ByteArrayOutputStream gz = new java.io.ByteArrayOutputStream();
        try (var out = new java.util.zip.GZIPOutputStream(gz)) {
            out.write(layerTar);
        }
        byte[] layer = gz.toByteArray();
        String layerDigest = blob(layout, layer);
        String config = """
                {"architecture":"amd64","os":"linux","config":{
                  "Entrypoint":["/bin/sh","-c"],
                  "Cmd":["echo $GREETING from the image in $(pwd) as $(id -u):$(id -g) on $(hostname); exit 3"],
                  "Env":["PATH=/bin","GREETING=hello"],"WorkingDir":"/srv","User":"1000:1000"},
                 "rootfs":{"type":"layers","diff_ids":["sha256:%s"]}}""".formatted(sha256(layerTar));
        byte[] configBytes = config.getBytes(StandardCharsets.UTF_8);
        String configDigest = blob(layout, configBytes);
        byte[] manifest = """
                {"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json",
                 "config":{"mediaType":"application/vnd.oci.image.config.v1+json","digest":"sha256:%s","size":%d},
                 "layers":[{"mediaType":"application/vnd.oci.image.layer.v1.tar+gzip","digest":"sha256:%s","size":%d}]}"""
                .formatted(configDigest, configBytes.length, layerDigest, layer.length).getBytes(StandardCharsets.UTF_8);
        String manifestDigest = blob(layout, manifest);
        Files.writeString(layout.resolve("index.json"), """
                {"schemaVersion":2,"mediaType":"application/vnd.oci.image.index.v1+json","manifests":[
                 {"mediaType":"application/vnd.oci.image.manifest.v1+json","digest":"sha256:%s","size":%d,
                  "annotations":{"org.opencontainers.image.ref.name":"v1"}}]}""".formatted(manifestDigest, manifest.length));
        return layout;
    }

    static String blob(Path layout, byte[] content) throws Exception {
        String hex = sha256(content);
        Files.write(layout.resolve("blobs/sha256").resolve(hex), content);
        return hex;
    }

    static String sha256(byte[] content) throws Exception {
        return HexFormat.of().formatHex(MessageDigest.getInstance("SHA-256").digest(content));
    }

    static String run(List<String> command) throws Exception {
        java.lang.Process p = new ProcessBuilder(command).redirectErrorStream(true).start();
        String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
        if (!p.waitFor(120, TimeUnit.SECONDS) || p.exitValue() != 0) {
            throw new IllegalStateException(command + " failed: " + out);
        }
        return out;
    }
}
