package dev.flotilla.tests.linux;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.sun.net.httpserver.HttpServer;
import dev.flotilla.containers.bench.BusyboxImage;
import dev.flotilla.containers.bench.LoopbackRegistry;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.MethodOrderer;
import org.junit.jupiter.api.Order;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestInstance;
import org.junit.jupiter.api.TestMethodOrder;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.lang.management.ManagementFactory;
import java.net.InetSocketAddress;
import java.net.ServerSocket;
import java.net.URI;
import java.net.URLEncoder;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.net.http.WebSocket;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionStage;
import java.util.concurrent.TimeUnit;
import java.util.function.Predicate;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;

/**
 * The packaged node agent (node-agent/target/quarkus-app) as a child process with Linux guests, networking on and
 * containers from a loopback registry, driven only through its REST API: sandboxes from an image, their output in
 * logs, exec, the address the guest sees, isolation on the bridge, stop, delete, a SIGKILL of the agent with a VM
 * running and the restart on the same state directory, then sandbox-to-sandbox traffic allowed. Needs root (taps,
 * a bridge, nftables), as the agent does; the lab runs as root. Sandboxes are shared between steps where the
 * steps do not interfere: the lab boots each VM under TCG.
 */
@TestInstance(TestInstance.Lifecycle.PER_CLASS)
@TestMethodOrder(MethodOrderer.OrderAnnotation.class)
class NodeAgentE2E {
    static final Duration READY = Duration.ofSeconds(240);
    static final Duration BOOT = Duration.ofSeconds(240);
    static final String TOKEN = "node-agent-e2e";
    /** A bridge and pool of this suite's own, so nothing else on the host is touched. */
    static final String BRIDGE = "flte2e0";
    static final String POOL = "10.219.7.0/24";
    static final String GATEWAY = "10.219.7.1";
    /** The agent names taps "flt" + the address in hex: 10.219.7.x. */
    static final String TAP_PREFIX = "flt0adb07";
    /** Every sandbox's main: a greeting on stdout, then an HTTP server (busybox httpd) on 8080 serving /etc. */
    static final String MAIN = "echo hello from $(hostname); exec httpd -f -p 8080 -h /etc";
    static final String SERVED = "flotilla-e2e-hello\n"; // /etc/image-name in the test image

    final HttpClient http = HttpClient.newBuilder().connectTimeout(Duration.ofSeconds(5)).build();
    Path dir;
    Path state;
    LoopbackRegistry registry;
    String image;
    HttpServer nodeSide;
    int port;
    int starts;
    Process agent;
    Path agentLog;
    String base;
    JsonNode alpha;
    JsonNode beta;

    @BeforeAll
    void startRegistryAndAgent() throws Exception {
        assertEquals("root", System.getProperty("user.name"), "the node agent's networking needs root (taps, bridge, nftables)");
        dir = Files.createTempDirectory("fl-node-agent-e2e");
        state = Files.createDirectories(dir.resolve("state"));
        registry = LoopbackRegistry.start(dir.resolve("registry"));
        Path layout = BusyboxImage.writeLayout(dir.resolve("layout"), "v1", MAIN);
        image = registry.push(layout, "v1", "e2e/agent:v1");
        // A service on the node that sandboxes may reach through their gateway (the bridge is the node's side).
        nodeSide = HttpServer.create(new InetSocketAddress(0), 0);
        nodeSide.createContext("/", exchange -> {
            byte[] body = "node side\n".getBytes(StandardCharsets.UTF_8);
            exchange.sendResponseHeaders(200, body.length);
            exchange.getResponseBody().write(body);
            exchange.close();
        });
        nodeSide.start();
        try (ServerSocket s = new ServerSocket(0)) {
            port = s.getLocalPort();
        }
        startAgent(false);
        // Both created before waiting: their pulls and boots overlap.
        alpha = create("alpha", null);
        beta = create("beta", null);
    }

    @AfterAll
    void tearDown() throws Exception {
        if (agent != null && agent.isAlive()) {
            agent.destroy();
            if (!agent.waitFor(60, java.util.concurrent.TimeUnit.SECONDS)) {
                agent.destroyForcibly().waitFor();
            }
        }
        // The agent leaves its bridge and nftables table for the next start; this suite's are removed here, with
        // any tap a failed step left behind.
        try (var links = Files.list(Path.of("/sys/class/net"))) {
            for (String tap : links.map(l -> l.getFileName().toString()).filter(n -> n.startsWith(TAP_PREFIX)).toList()) {
                run(List.of("ip", "link", "del", tap));
            }
        }
        run(List.of("ip", "link", "del", BRIDGE));
        run(List.of("nft", "delete", "table", "inet", "flotilla_" + BRIDGE));
        if (nodeSide != null) {
            nodeSide.stop(0);
        }
        if (registry != null) {
            registry.close();
        }
        if (dir != null) {
            try (var s = Files.walk(dir)) {
                for (Path p : s.sorted(java.util.Comparator.reverseOrder()).toList()) {
                    Files.deleteIfExists(p);
                }
            }
        }
    }

    @Test
    @Order(1)
    void createFromImage_runs_andItsOutputIsInTheLogs() throws Exception {
        for (JsonNode s : List.of(alpha, beta)) {
            assertEquals(image, s.path("image").asText(), s.toString());
            assertTrue(List.of("STARTING", "RUNNING").contains(s.path("state").asText()), s.toString());
        }
        alpha = awaitState("alpha", "RUNNING");
        beta = awaitState("beta", "RUNNING");
        assertTrue(alpha.path("bootTimeMillis").asLong() > 0, alpha.toString());
        await("alpha's greeting is in its logs", "/api/v1/sandboxes/alpha/containers/main/logs?stream=stdout",
                a -> a.status() == 200 && a.text().equals("hello from alpha\n"), BOOT);
        JsonNode containers = get("/api/v1/sandboxes/alpha/containers").json();
        assertEquals("main", containers.path(0).path("id").asText(), containers.toString());
        assertTrue(containers.path(0).path("running").asBoolean(), containers.toString());
    }

    @Test
    @Order(2)
    void exec_guestSeesTheAddressTheAgentGaveIt() throws Exception {
        JsonNode net = alpha.path("network");
        String address = net.path("address").asText();
        assertTrue(address.startsWith("10.219.7."), alpha.toString());
        assertEquals(24, net.path("prefixLength").asInt(), alpha.toString());
        assertEquals(GATEWAY, net.path("gateway").asText(), alpha.toString());
        assertTrue(Files.exists(Path.of("/sys/class/net", net.path("tap").asText(), "brport")),
                "the sandbox's tap is a port of " + BRIDGE + ": " + alpha);
        assertNotEquals(address, beta.path("network").path("address").asText(), "two sandboxes, two addresses");

        JsonNode r = exec("alpha", "hostname; ip -4 addr show dev eth0; ip link show dev eth0; ip route");
        assertEquals(0, r.path("exitCode").asInt(), r.toString());
        String out = r.path("stdout").asText();
        assertTrue(out.startsWith("alpha\n"), "exec runs in the sandbox: " + out);
        assertTrue(out.contains("inet " + address + "/24 "), "eth0 has the sandbox's address: " + out);
        assertTrue(out.contains("link/ether " + net.path("mac").asText() + " "), "eth0 has the sandbox's MAC: " + out);
        assertTrue(out.contains("default via " + GATEWAY), "the bridge is the default gateway: " + out);
    }

    @Test
    @Order(3)
    void isolation_sandboxReachesTheNode_notTheApi_notTheOtherSandbox() throws Exception {
        String betaAddress = beta.path("network").path("address").asText();
        // Controls: the probe tool works, beta serves, and alpha's traffic leaves through the bridge.
        JsonNode local = fetch("beta", "http://127.0.0.1:8080/image-name");
        assertEquals(0, local.path("exitCode").asInt(), "beta's httpd answers inside beta: " + local);
        assertEquals(SERVED, local.path("stdout").asText(), local.toString());
        JsonNode node = fetch("alpha", "http://" + GATEWAY + ":" + nodeSide.getAddress().getPort() + "/");
        assertEquals(0, node.path("exitCode").asInt(), "alpha reaches a service on the node through its gateway: " + node);
        assertEquals("node side\n", node.path("stdout").asText(), node.toString());

        assertEquals(200, get("/q/health/live").status(), "the API answers on the node itself");
        JsonNode api = fetch("alpha", "http://" + GATEWAY + ":" + port + "/q/health/live");
        assertUnreachable(api, "a sandbox must not reach the node's API");
        JsonNode other = fetch("alpha", "http://" + betaAddress + ":8080/image-name");
        assertUnreachable(other, "sandboxes must not reach each other by default");
    }

    @Test
    @Order(4)
    void stop_thenDelete_leaveNoTapNoRecord() throws Exception {
        String id = beta.path("id").asText();
        String tap = beta.path("network").path("tap").asText();
        Path record = state.resolve("sandboxes").resolve(id + ".json");
        assertTrue(Files.exists(Path.of("/sys/class/net", tap)), "beta's tap exists while it runs");

        Answer stopped = call("POST", "/api/v1/sandboxes/beta/stop", null);
        assertEquals(200, stopped.status(), stopped.text());
        assertEquals("STOPPED", stopped.json().path("state").asText(), stopped.text());
        assertEquals("stopped on request", stopped.json().path("message").asText(), stopped.text());
        assertFalse(stopped.json().has("network"), "a stopped sandbox holds no network: " + stopped.text());
        assertFalse(Files.exists(Path.of("/sys/class/net", tap)), "stop removes the tap " + tap);
        assertTrue(Files.readString(record).contains("\"state\":\"STOPPED\""), "the record stays, STOPPED");
        assertEquals("hello from beta\n", get("/api/v1/sandboxes/beta/containers/main/logs?stream=stdout").text(), "logs outlive the VM");

        assertEquals(204, call("DELETE", "/api/v1/sandboxes/beta", null).status());
        assertEquals(404, get("/api/v1/sandboxes/beta").status());
        assertEquals(404, get("/api/v1/sandboxes/" + id).status());
        assertFalse(Files.exists(record), "delete removes the record " + record);
        try (var left = Files.list(state.resolve("sandboxes"))) {
            List<String> files = left.map(p -> p.getFileName().toString()).toList();
            assertEquals(List.of(alpha.path("id").asText() + ".json"), files, "only alpha's record is left");
        }
        JsonNode list = get("/api/v1/sandboxes").json();
        assertEquals(1, list.path("count").asInt(), list.toString());
        assertEquals(404, call("DELETE", "/api/v1/sandboxes/beta", null).status(), "a second delete: unknown");
    }

    @Test
    @Order(5)
    void agentKilledWithAVmRunning_restartReportsItLost_andRemovesItsTap() throws Exception {
        String tap = alpha.path("network").path("tap").asText();
        assertEquals("RUNNING", get("/api/v1/sandboxes/alpha").json().path("state").asText());
        agent.destroyForcibly().waitFor(); // SIGKILL: no shutdown hook; the VM dies with the JVM that ran it
        assertTrue(Files.exists(Path.of("/sys/class/net", tap)), "the tap outlives the killed agent (taps are persistent)");

        startAgent(true);
        JsonNode lost = get("/api/v1/sandboxes/alpha").json();
        assertEquals("FAILED", lost.path("state").asText(), lost.toString());
        assertTrue(lost.path("message").asText().startsWith("lost: the VM ran in a previous node-agent process"), lost.toString());
        assertFalse(Files.exists(Path.of("/sys/class/net", tap)), "the restart removed the lost VM's tap " + tap);
        assertEquals(0, get("/api/v1/node").json().path("used").path("vms").asInt(), "the lost VM holds no capacity");
    }

    @Test
    @Order(6)
    void afterRestart_newSandboxesRun_andReachEachOtherWhenAllowed() throws Exception {
        // gamma: a request command replacing the image's Cmd; omega: ends by SIGKILL below.
        create("gamma", "trap 'echo bye; exit 0' USR1; echo custom $(hostname); httpd -f -p 8080 -h /etc & wait");
        create("delta", null);
        create("omega", null);
        JsonNode delta = awaitState("delta", "RUNNING");
        awaitState("gamma", "RUNNING");
        awaitState("omega", "RUNNING");
        await("gamma's greeting is in its logs", "/api/v1/sandboxes/gamma/containers/main/logs?stream=stdout",
                a -> a.status() == 200 && a.text().equals("custom gamma\n"), BOOT);
        String deltaAddress = delta.path("network").path("address").asText();
        await("delta serves", "/api/v1/sandboxes/delta/containers/main/logs?stream=stdout",
                a -> a.status() == 200 && a.text().equals("hello from delta\n"), BOOT);
        JsonNode other = fetch("gamma", "http://" + deltaAddress + ":8080/image-name");
        assertEquals(0, other.path("exitCode").asInt(), "with allow-sandbox-to-sandbox=true gamma reaches delta: " + other);
        assertEquals(SERVED, other.path("stdout").asText(), other.toString());
        JsonNode api = fetch("gamma", "http://" + GATEWAY + ":" + port + "/q/health/live");
        assertUnreachable(api, "the node's API stays closed to sandboxes");
    }

    @Test
    @Order(7)
    void containers_secondContainer_follow_execPid1_andRefusals() throws Exception {
        JsonNode pid1 = exec("delta", "cat /proc/1/comm; hostname");
        assertEquals("httpd\ndelta\n", pid1.path("stdout").asText(), "exec joins main's pid and uts namespaces: " + pid1);
        Answer side = call("POST", "/api/v1/sandboxes/delta/containers", "{\"id\":\"side\",\"command\":[\"echo side-car\"]}");
        assertEquals(201, side.status(), side.text());
        Answer follow = get("/api/v1/sandboxes/delta/containers/side/logs?follow=true");
        assertEquals(200, follow.status(), follow.text());
        assertEquals("side-car\n", follow.text(), "follow streams until the container exits");
        JsonNode ended = get("/api/v1/sandboxes/delta/containers/side").json();
        assertEquals(0, ended.path("exitCode").asInt(), ended.toString());
        assertFalse(ended.path("running").asBoolean(), ended.toString());

        // Interactive exec over WebSocket: stdin in, tagged stdout back, the exit code as the last frame.
        String script = URLEncoder.encode("read x; echo got:$x; echo err >&2; exit 3", StandardCharsets.UTF_8);
        WsExec piped = execWs("/api/v1/sandboxes/delta/containers/main/exec/ws?command=sh&command=-c&command=" + script,
                "hi\n".getBytes(StandardCharsets.UTF_8));
        assertEquals(1000, piped.closeCode(), piped.toString());
        assertEquals("got:hi\n", piped.stdout(), piped.toString());
        assertEquals("err\n", piped.stderr(), piped.toString());
        assertEquals(3, JSON.readTree(piped.lastText()).path("exitCode").asInt(), piped.toString());
        WsExec tty = execWs("/api/v1/sandboxes/delta/containers/main/exec/ws?command=stty&command=size&tty=true&rows=33&cols=101", new byte[0]);
        assertEquals(1000, tty.closeCode(), tty.toString());
        assertTrue(tty.stdout().contains("33 101"), "the terminal has the requested size: " + tty);
        assertEquals(0, JSON.readTree(tty.lastText()).path("exitCode").asInt(), tty.toString());
        assertEquals(4404, execWs("/api/v1/sandboxes/delta/containers/nope/exec/ws?command=true", new byte[0]).closeCode());

        Answer badSignal = call("POST", "/api/v1/sandboxes/delta/containers/main/signal", "{\"signal\":99}");
        assertEquals(400, badSignal.status(), badSignal.text());
        assertEquals("signal", badSignal.json().path("errors").path(0).path("field").asText(), badSignal.text());
        assertEquals(404, get("/api/v1/sandboxes/delta/containers/nope/logs").status());
        Answer unknownImage = call("POST", "/api/v1/sandboxes", JSON.createObjectNode().put("name", "nosuch")
                .put("image", registry.address() + "/e2e/nosuch:v1").toString());
        assertEquals(422, unknownImage.status(), unknownImage.text());
        assertTrue(unknownImage.text().contains("was not found in registry"), unknownImage.text());
        assertEquals(404, get("/api/v1/sandboxes/nosuch").status(), "a refused create leaves no sandbox");
    }

    @Test
    @Order(8)
    void mainsEnd_endsTheSandbox_exit0Stopped_killedFailed_logsStayReadable() throws Exception {
        String gammaTap = get("/api/v1/sandboxes/gamma").json().path("network").path("tap").asText();
        assertEquals(200, call("POST", "/api/v1/sandboxes/gamma/containers/main/signal", "{\"signal\":10}").status());
        JsonNode gamma = awaitState("gamma", "STOPPED");
        assertEquals("container main exited with code 0", gamma.path("message").asText(), gamma.toString());
        assertEquals("custom gamma\nbye\n", get("/api/v1/sandboxes/gamma/containers/main/logs?stream=stdout").text(),
                "logs stay readable after the VM ended");
        assertFalse(Files.exists(Path.of("/sys/class/net", gammaTap)), "the VM's end removed tap " + gammaTap);

        assertEquals(200, call("POST", "/api/v1/sandboxes/omega/containers/main/signal", "{\"signal\":9}").status());
        JsonNode omega = awaitState("omega", "FAILED");
        assertEquals("container main was killed by signal 9", omega.path("message").asText(), omega.toString());
        assertEquals("RUNNING", get("/api/v1/sandboxes/delta").json().path("state").asText(), "delta is not affected");
    }

    @Test
    @Order(9)
    void sigterm_stopsRunningSandboxesCleanly() throws Exception {
        String deltaId = get("/api/v1/sandboxes/delta").json().path("id").asText();
        String tap = get("/api/v1/sandboxes/delta").json().path("network").path("tap").asText();
        agent.destroy(); // SIGTERM
        assertTrue(agent.waitFor(120, java.util.concurrent.TimeUnit.SECONDS), "the agent ends within 120 s of SIGTERM");
        assertFalse(Files.exists(Path.of("/sys/class/net", tap)), "graceful shutdown removed tap " + tap);
        String record = Files.readString(state.resolve("sandboxes").resolve(deltaId + ".json"));
        assertTrue(record.contains("\"state\":\"STOPPED\"") && record.contains("stopped because the node agent shut down"), record);
        try (var links = Files.list(Path.of("/sys/class/net"))) {
            List<String> left = links.map(l -> l.getFileName().toString()).filter(n -> n.startsWith(TAP_PREFIX)).toList();
            assertEquals(List.of(), left, "no tap of this agent's pool is left");
        }
    }

    // ---- the agent process

    /** Starts the packaged agent on {@link #state} and {@link #port}; waits until it is ready. */
    void startAgent(boolean allowSandboxToSandbox) throws Exception {
        String home = System.getenv().getOrDefault("FLOTILLA_HOME", ".");
        Path jar = Path.of(home, "node-agent/target/quarkus-app/quarkus-run.jar").toAbsolutePath();
        assertTrue(Files.isRegularFile(jar), jar + " is missing: build it with mvn install");
        List<String> cmd = new ArrayList<>(List.of(Path.of(System.getProperty("java.home"), "bin", "java").toString(),
                "--enable-native-access=ALL-UNNAMED", "-Xmx512m"));
        // The e2e JVM's JIT settings (C1 only in the lab, see scripts/e2e.sh) and crash-report location apply here too.
        for (String arg : ManagementFactory.getRuntimeMXBean().getInputArguments()) {
            if (arg.startsWith("-XX:TieredStopAtLevel") || arg.startsWith("-XX:ErrorFile")) {
                cmd.add(arg);
            }
        }
        Map<String, String> config = Map.ofEntries(
                Map.entry("quarkus.http.port", Integer.toString(port)),
                Map.entry("flotilla.node.name", "e2e"),
                Map.entry("flotilla.node.state-dir", state.toString()),
                Map.entry("flotilla.node.auth.tokens", TOKEN),
                Map.entry("flotilla.node.guests.linux-kernel", GuestArtifacts.vmlinux().toString()),
                Map.entry("flotilla.node.guests.linux-initrd", GuestArtifacts.initrd().toString()),
                Map.entry("flotilla.node.guests.linux-cmdline", GuestArtifacts.cmdline("")),
                Map.entry("flotilla.node.guests.boot-timeout", "180s"),
                Map.entry("flotilla.node.containers.agent-timeout", "180s"),
                Map.entry("flotilla.node.containers.insecure-registries", registry.address()),
                Map.entry("flotilla.node.network.enabled", "true"),
                Map.entry("flotilla.node.network.bridge", BRIDGE),
                Map.entry("flotilla.node.network.pool", POOL),
                Map.entry("flotilla.node.network.allow-sandbox-to-sandbox", Boolean.toString(allowSandboxToSandbox)));
        config.forEach((k, v) -> cmd.add("-D" + k + "=" + v));
        cmd.addAll(List.of("-jar", jar.toString()));
        agentLog = GuestArtifacts.results().resolve("node-agent-e2e-" + ++starts + ".log");
        agent = new ProcessBuilder(cmd).redirectErrorStream(true).redirectOutput(agentLog.toFile()).start();
        base = "http://127.0.0.1:" + port;
        await("the agent is ready", "/q/health/ready", a -> a.status() == 200, READY);
    }

    /** Creates a sandbox from the test image; {@code command} (one sh -c script) replaces its Cmd unless null. */
    JsonNode create(String name, String command) throws Exception {
        var body = JSON.createObjectNode().put("name", name).put("image", image).put("memoryMiB", 256);
        if (command != null) {
            body.putArray("command").add(command);
        }
        Answer a = call("POST", "/api/v1/sandboxes", body.toString());
        assertEquals(201, a.status(), "create " + name + ": " + a.text() + agentTail());
        return a.json();
    }

    /** Waits for {@code wanted}; a sandbox that ended in another state fails at once, with its message. */
    JsonNode awaitState(String name, String wanted) throws Exception {
        return await(name + " is " + wanted, "/api/v1/sandboxes/" + name, a -> {
            String now = a.status() == 200 ? a.json().path("state").asText() : "";
            if (!now.equals(wanted) && (now.equals("STOPPED") || now.equals("FAILED"))) {
                fail(name + " ended " + now + " while waiting for " + wanted + ": " + a.text() + agentTail());
            }
            return now.equals(wanted);
        }, BOOT).json();
    }

    /** Runs {@code script} with sh in the sandbox's main container. */
    JsonNode exec(String sandbox, String script) throws Exception {
        Answer a = call("POST", "/api/v1/sandboxes/" + sandbox + "/containers/main/exec", JSON.createObjectNode()
                .put("id", "x" + System.nanoTime()).put("timeoutSeconds", 60)
                .set("command", JSON.valueToTree(List.of("sh", "-c", script))).toString());
        assertEquals(200, a.status(), "exec in " + sandbox + ": " + a.text());
        return a.json();
    }

    /**
     * busybox wget from inside a sandbox, bounded by timeout (SIGTERM after 8 s): a dropped or unanswered connection
     * fails within seconds. (Not wget -T: busybox 1.35's wget crashes with SIGSEGV when given it.)
     */
    JsonNode fetch(String sandbox, String url) throws Exception {
        return exec(sandbox, "exec timeout 8 wget -q -O - " + url);
    }

    /** A probe that could not reach its server: refused, unreachable or timed out, not a crash of the probe itself. */
    static void assertUnreachable(JsonNode probe, String why) {
        assertNotEquals(0, probe.path("exitCode").asInt(), why + ": " + probe);
        int signal = probe.path("signal").asInt();
        assertTrue(signal == 0 || signal == 15, "the probe failed by itself, not by the network: " + probe);
        assertFalse(probe.path("stdout").asText().contains("flotilla") || probe.path("stdout").asText().contains("UP"),
                why + ": " + probe);
    }

    // ---- HTTP

    static final ObjectMapper JSON = new ObjectMapper();

    record Answer(int status, String text) {
        JsonNode json() {
            try {
                return JSON.readTree(text);
            } catch (IOException e) {
                throw new AssertionError("not JSON (" + status + "): " + text, e);
            }
        }
    }

    Answer get(String path) throws Exception {
        return call("GET", path, null);
    }

    Answer call(String method, String path, String body) throws Exception {
        HttpRequest.Builder b = HttpRequest.newBuilder(URI.create(base + path)).timeout(Duration.ofSeconds(90))
                .header("Authorization", "Bearer " + TOKEN);
        if (body != null) {
            b.header("Content-Type", "application/json").method(method, HttpRequest.BodyPublishers.ofString(body));
        } else {
            b.method(method, HttpRequest.BodyPublishers.noBody());
        }
        try {
            HttpResponse<String> r = http.send(b.build(), HttpResponse.BodyHandlers.ofString());
            return new Answer(r.statusCode(), r.body());
        } catch (IOException e) {
            return new Answer(-1, e.toString());
        }
    }

    /** What an exec WebSocket gave back: stdout and stderr by their tag (a tty's raw output counts as stdout). */
    record WsExec(int closeCode, String closeReason, String stdout, String stderr, String lastText) {
    }

    /** Opens the exec WebSocket at {@code path}, sends {@code stdin} as one binary frame, collects until it closes. */
    WsExec execWs(String path, byte[] stdin) throws Exception {
        boolean tty = path.contains("tty=true");
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        ByteArrayOutputStream err = new ByteArrayOutputStream();
        ByteArrayOutputStream frame = new ByteArrayOutputStream();
        StringBuilder text = new StringBuilder();
        String[] last = {""};
        CompletableFuture<WsExec> closed = new CompletableFuture<>();
        WebSocket socket = http.newWebSocketBuilder().header("Authorization", "Bearer " + TOKEN)
                .buildAsync(URI.create(base.replaceFirst("^http", "ws") + path), new WebSocket.Listener() {
                    @Override
                    public CompletionStage<?> onBinary(WebSocket ws, ByteBuffer data, boolean complete) {
                        byte[] b = new byte[data.remaining()];
                        data.get(b);
                        frame.writeBytes(b);
                        if (complete) {
                            byte[] f = frame.toByteArray();
                            frame.reset();
                            if (tty) {
                                out.writeBytes(f);
                            } else if (f.length > 0) {
                                (f[0] == 2 ? err : out).write(f, 1, f.length - 1);
                            }
                        }
                        ws.request(1);
                        return null;
                    }

                    @Override
                    public CompletionStage<?> onText(WebSocket ws, CharSequence data, boolean complete) {
                        text.append(data);
                        if (complete) {
                            last[0] = text.toString();
                            text.setLength(0);
                        }
                        ws.request(1);
                        return null;
                    }

                    @Override
                    public CompletionStage<?> onClose(WebSocket ws, int code, String reason) {
                        closed.complete(new WsExec(code, reason, out.toString(StandardCharsets.UTF_8),
                                err.toString(StandardCharsets.UTF_8), last[0]));
                        return null;
                    }
                }).get(30, TimeUnit.SECONDS);
        if (stdin.length > 0) {
            socket.sendBinary(ByteBuffer.wrap(stdin), true).get(30, TimeUnit.SECONDS);
        }
        try {
            return closed.get(60, TimeUnit.SECONDS);
        } finally {
            socket.abort();
        }
    }

    Answer await(String what, String path, Predicate<Answer> condition, Duration timeout) throws Exception {
        long deadline = System.nanoTime() + timeout.toNanos();
        Answer last = null;
        while (System.nanoTime() < deadline) {
            if (agent != null && !agent.isAlive()) {
                fail("the agent exited with " + agent.exitValue() + " while waiting until " + what + agentTail());
            }
            last = call("GET", path, null);
            if (condition.test(last)) {
                return last;
            }
            Thread.sleep(250);
        }
        fail("timed out after " + timeout + " waiting until " + what + "; last answer " + last + agentTail());
        return null;
    }

    String agentTail() {
        List<String> lines;
        try {
            lines = agentLog == null || !Files.exists(agentLog) ? List.of() : Files.readAllLines(agentLog);
        } catch (IOException e) {
            return "\n(cannot read " + agentLog + ": " + e.getMessage() + ")";
        }
        if (lines.isEmpty()) {
            return "";
        }
        return "\n--- " + agentLog + " (tail) ---\n" + String.join("\n", lines.subList(Math.max(0, lines.size() - 40), lines.size()));
    }

    static void run(List<String> command) throws IOException, InterruptedException {
        Process p = new ProcessBuilder(command).redirectErrorStream(true).redirectOutput(ProcessBuilder.Redirect.DISCARD).start();
        p.waitFor();
    }
}
