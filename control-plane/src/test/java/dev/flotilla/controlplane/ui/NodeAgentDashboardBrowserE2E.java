package dev.flotilla.controlplane.ui;

import dev.flotilla.controlplane.testing.Api;
import io.quarkus.test.junit.QuarkusTest;
import jakarta.inject.Inject;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.openqa.selenium.By;
import org.openqa.selenium.WindowType;

import java.io.BufferedReader;
import java.io.InputStreamReader;
import java.net.ServerSocket;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.UUID;
import java.util.concurrent.TimeUnit;

import static org.hamcrest.Matchers.containsString;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;

/**
 * The dashboard in headless Chromium against the running control plane (embedded PostgreSQL) and a real node agent
 * process: the packaged node-agent jar, started here with tiny guests on this host's KVM (PVM included). Sandboxes
 * created through the form really boot, and the console the page shows is the guest's own serial output, relayed
 * by the control plane from the agent. Needs the agent built first, so it is not part of the module's verify run:
 *
 * <pre>
 * mvn -B -q -pl node-agent -am package -DskipTests
 * mvn -B -q -pl control-plane test-compile failsafe:integration-test@browser-node-agent failsafe:verify@browser-node-agent
 * </pre>
 * (scripts/test.sh runs it after the build). Screenshots: target/ui-screenshots/agent-*.png.
 */
@QuarkusTest
class NodeAgentDashboardBrowserE2E {
    @Inject
    FleetSeries series;
    private static final Path AGENT_JAR = Path.of(System.getProperty("browser-tests.node-agent-jar",
            "../node-agent/target/quarkus-app/quarkus-run.jar")).toAbsolutePath().normalize();
    private static final Path WORK = Path.of("target", "browser-node-agent").toAbsolutePath();
    private static final String AGENT_TOKEN = "agent-" + UUID.randomUUID();

    private static Browser browser;
    private static Process agent;
    private static String nodeName;
    private static String agentUrl;

    @BeforeEach
    void start() throws Exception {
        if (agent == null) {
            startAgent();
        }
        if (browser == null) {
            browser = new Browser(Api.baseUrl());
        }
        browser.signOut();
        browser.resize(1280, 900);
    }

    @AfterAll
    static void stop() throws InterruptedException {
        if (browser != null) {
            browser.close();
            browser = null;
        }
        if (agent != null) {
            agent.destroy();
            if (!agent.waitFor(30, TimeUnit.SECONDS)) {
                agent.destroyForcibly();
            }
            agent = null;
        }
    }

    private static void startAgent() throws Exception {
        if (!Files.isRegularFile(AGENT_JAR)) {
            fail("the node agent is not built (" + AGENT_JAR + "): mvn -B -q -pl node-agent -am package -DskipTests");
        }
        Path state = Files.createDirectories(WORK.resolve("state-" + UUID.randomUUID().toString().substring(0, 8)));
        Path log = WORK.resolve("node-agent.log");
        int port;
        try (ServerSocket socket = new ServerSocket(0)) {
            port = socket.getLocalPort();
        }
        nodeName = "ui-agent-" + UUID.randomUUID().toString().substring(0, 8);
        agentUrl = "http://127.0.0.1:" + port;
        ProcessBuilder builder = new ProcessBuilder(Path.of(System.getProperty("java.home"), "bin", "java").toString(),
                "--enable-native-access=ALL-UNNAMED", "-XX:TieredStopAtLevel=1", "-jar", AGENT_JAR.toString())
                .redirectErrorStream(true).redirectOutput(ProcessBuilder.Redirect.appendTo(log.toFile()));
        builder.environment().putAll(Map.of("FLOTILLA_NODE_STATE_DIR", state.toString(),
                "QUARKUS_HTTP_PORT", Integer.toString(port), "QUARKUS_HTTP_HOST", "127.0.0.1",
                "FLOTILLA_NODE_AUTH_TOKENS", AGENT_TOKEN, "FLOTILLA_NODE_NAME", nodeName,
                "FLOTILLA_NODE_CONTROL_PLANE_URL", Api.baseUrl(), "FLOTILLA_NODE_CONTROL_PLANE_JOIN_TOKEN", Api.JOIN,
                "FLOTILLA_NODE_CONTROL_PLANE_ADVERTISE_URL", agentUrl, "FLOTILLA_NODE_CONTROL_PLANE_RETRY_MAX", "1s"));
        agent = builder.start();
        // Nodes other test runs left in the database stop heartbeating: only this agent's node stays READY.
        try {
            Api.eventually(Duration.ofSeconds(120), "node " + nodeName + " to be the only READY node", () -> {
                if (!agent.isAlive()) {
                    throw new AssertionError("the node agent exited with " + agent.exitValue() + "; see " + log);
                }
                List<String> ready = Api.as(Api.READER).get("/api/v1/nodes?state=READY").then().extract()
                        .jsonPath().getList("items.name");
                return ready != null && ready.equals(List.of(nodeName));
            });
        } catch (AssertionError e) {
            throw new AssertionError(e.getMessage() + "; node agent log: " + WORK.resolve("node-agent.log"), e);
        }
    }

    private static String suffix() {
        return UUID.randomUUID().toString().substring(0, 8);
    }

    private static void type(String css, String text) {
        browser.find(css).clear();
        browser.find(css).sendKeys(text);
    }

    private static String banner(String name, String id) {
        return "flotilla tiny guest " + name + " (" + id + ") is up";
    }

    private static int agentStatus(String id) throws Exception {
        HttpRequest request = HttpRequest.newBuilder(URI.create(agentUrl + "/v1/sandboxes/" + id))
                .header("Authorization", "Bearer " + AGENT_TOKEN).build();
        return HttpClient.newHttpClient().send(request, HttpResponse.BodyHandlers.discarding()).statusCode();
    }

    @Test
    void admin_createsWatchesReadsLogsStopsAndDeletes_aSandboxOnARealNodeAgent() throws Exception {
        String name = "agent-" + suffix();
        browser.open("/ui/sandboxes");
        browser.waitForPath("/ui/login");
        browser.screenshot("agent-login");
        browser.find("#token").sendKeys(Api.ADMIN);
        browser.click("#sign-in");
        browser.waitForPath("/ui/sandboxes");

        // Tab 1 watches the list; tab 2 creates, reads and acts.
        String listTab = browser.driver.getWindowHandle();
        try {
            createWatchAndDelete(name, listTab);
        } finally {
            for (String handle : browser.driver.getWindowHandles()) {
                if (!handle.equals(listTab)) {
                    browser.driver.switchTo().window(handle).close();
                }
            }
            browser.driver.switchTo().window(listTab);
        }
    }

    private void createWatchAndDelete(String name, String listTab) throws Exception {
        browser.open("/ui/sandboxes?node=" + nodeName);
        browser.waitForPath("/ui/sandboxes");
        browser.markPageLoad();
        assertFalse(browser.present("#sandbox-" + name));
        browser.driver.switchTo().newWindow(WindowType.TAB);
        String actionTab = browser.driver.getWindowHandle();
        browser.open("/ui/sandboxes/new");
        type("#name", name);
        type("#image", "flotilla/tiny");
        type("#vcpus", "1");
        type("#memoryMiB", "32");
        browser.screenshot("agent-create-form");
        browser.click("#create");

        browser.waitFor("the sandbox page to open", d -> d.getCurrentUrl().matches(".*/ui/sandboxes/[0-9a-f-]{36}$"));
        String id = browser.driver.getCurrentUrl().replaceAll(".*/", "");
        browser.waitForText("#notice", "placed on node " + nodeName);
        browser.markPageLoad();
        browser.waitForText("#sandbox-state", "RUNNING");
        assertEquals(nodeName, browser.text("#sandbox-node"));
        // The guest's own serial output, which only the node agent has: relayed live into the page.
        browser.waitForText("#console-output", banner(name, id));
        assertTrue(browser.text("#console-status").startsWith("Live: the console of sandbox " + name + ", from node "
                + nodeName), browser.text("#console-status"));
        assertTrue(browser.samePageLoad(), "state and console arrived without a reload");
        browser.screenshot("agent-sandbox-detail-console");

        browser.driver.switchTo().window(listTab);
        browser.waitFor("the new sandbox's row in the open list", d -> !d.findElements(By.id("sandbox-" + name)).isEmpty());
        browser.waitForText("#state-" + name, "RUNNING");
        assertTrue(browser.samePageLoad(), "the row arrived by a live update");
        browser.screenshot("agent-sandboxes");

        browser.driver.switchTo().window(actionTab);
        browser.click("#stop");
        browser.waitForText("#notice", "is stopping");
        browser.driver.switchTo().window(listTab);
        browser.waitForText("#state-" + name, "STOPPED");
        assertTrue(browser.samePageLoad(), "the list saw RUNNING turn STOPPED without a reload");

        browser.driver.switchTo().window(actionTab);
        browser.click("#delete");
        browser.driver.switchTo().alert().accept();
        browser.waitForPath("/ui/sandboxes");
        browser.waitForText("#notice", "Sandbox " + name);
        browser.driver.switchTo().window(listTab);
        browser.waitFor("the deleted sandbox's row to go", d -> d.findElements(By.id("sandbox-" + name)).isEmpty());
        assertTrue(browser.samePageLoad());
        Api.eventually(Duration.ofSeconds(30), "the agent to remove " + id, () -> {
            try {
                return agentStatus(id) == 404;
            } catch (Exception e) {
                return false;
            }
        });
        Api.as(Api.READER).get("/api/v1/sandboxes/" + id).then().statusCode(404);
    }

    @Test
    void api_logsAndLogStream_relayTheRealAgentsConsole() throws Exception {
        String name = "api-logs-" + suffix();
        String id = Api.as(Api.ADMIN).body(Map.of("name", name, "image", "flotilla/tiny", "vcpus", 1, "memoryMiB", 32))
                .post("/api/v1/sandboxes").then().statusCode(201).extract().path("id");
        Api.eventually(Duration.ofSeconds(60), name + " to run", () -> "RUNNING".equals(
                Api.as(Api.READER).get("/api/v1/sandboxes/" + id).then().extract().path("observedState")));

        Api.as(Api.READER).get("/api/v1/sandboxes/" + name + "/logs").then().statusCode(200)
                .body(containsString(banner(name, id)));
        // A sandbox with no container: the agent's 409 becomes ours, in words.
        Api.as(Api.READER).get("/api/v1/sandboxes/" + id + "/logs?container=main").then().statusCode(409)
                .body("detail", containsString("node " + nodeName));

        HttpRequest request = HttpRequest.newBuilder(URI.create(Api.baseUrl() + "/api/v1/sandboxes/" + id + "/logs/stream"))
                .header("Authorization", "Bearer " + Api.READER).header("Accept", "text/event-stream").build();
        HttpResponse<java.io.InputStream> response = HttpClient.newHttpClient().send(request,
                HttpResponse.BodyHandlers.ofInputStream());
        assertEquals(200, response.statusCode());
        List<String> lines = new ArrayList<>();
        try (BufferedReader reader = new BufferedReader(new InputStreamReader(response.body(), StandardCharsets.UTF_8))) {
            String line;
            while ((line = reader.readLine()) != null) {
                lines.add(line);
                if (line.contains(banner(name, id))) {
                    break;
                }
            }
        }
        assertTrue(lines.contains("event:ready") || lines.contains("event: ready"), lines.toString());
        int data = lines.size() - 1;
        assertTrue(lines.get(data).startsWith("data:") && lines.get(data).contains(banner(name, id)), lines.toString());
        assertTrue(lines.subList(0, data).stream().filter(l -> l.startsWith("event:")).reduce((a, b) -> b)
                .map(l -> l.replace(" ", "").equals("event:output")).orElse(false), "the banner came as an output event: " + lines);
        Api.as(Api.ADMIN).delete("/api/v1/sandboxes/" + id).then().statusCode(org.hamcrest.Matchers.anyOf(
                org.hamcrest.Matchers.is(200), org.hamcrest.Matchers.is(202)));
    }

    @Test
    void readOnlyUser_readsTheConsoleButCannotMutate() throws Exception {
        String name = "ro-agent-" + suffix();
        String id = Api.as(Api.ADMIN).body(Map.of("name", name, "image", "flotilla/tiny", "vcpus", 1, "memoryMiB", 32))
                .post("/api/v1/sandboxes").then().statusCode(201).extract().path("id");
        browser.signIn(Api.READER);
        browser.open("/ui/sandboxes/" + id);

        browser.waitForText("#sandbox-state", "RUNNING");
        browser.waitForText("#console-output", banner(name, id));
        assertEquals("read-only", browser.text("#role"));
        assertFalse(browser.present("#delete") || browser.present("#stop") || browser.present("#start"));
        assertEquals(403L, browser.post("/ui/sandboxes/" + id + "/stop"));
        assertEquals("RUNNING", Api.as(Api.READER).get("/api/v1/sandboxes/" + id).then().extract().path("desiredState"));
        browser.screenshot("agent-sandbox-detail-read-only");
        browser.resize(390, 844);
        browser.open("/ui/sandboxes/" + id);
        browser.waitForText("#console-output", banner(name, id));
        long overflow = (Long) browser.script("return document.documentElement.scrollWidth - window.innerWidth");
        assertTrue(overflow <= 0, "the sandbox page with its console scrolls sideways on a phone by " + overflow + " px");
        browser.screenshot("agent-sandbox-detail-phone");
        browser.resize(1280, 900);
        browser.open("/ui/nodes");
        browser.waitFor("the agent's node", d -> !d.findElements(By.id("node-" + nodeName)).isEmpty());
        assertFalse(browser.present("button[id^=cordon-]"));
        browser.screenshot("agent-nodes-read-only");
        Api.as(Api.ADMIN).delete("/api/v1/sandboxes/" + id);
    }

    @Test
    void everyPage_rendersWithTheRealNode_andIsSaved() throws Exception {
        String name = "pages-" + suffix();
        String id = Api.as(Api.ADMIN).body(Map.of("name", name, "image", "flotilla/tiny", "vcpus", 1, "memoryMiB", 32))
                .post("/api/v1/sandboxes").then().statusCode(201).extract().path("id");
        Api.eventually(Duration.ofSeconds(60), name + " to run", () -> "RUNNING".equals(
                Api.as(Api.READER).get("/api/v1/sandboxes/" + id).then().extract().path("observedState")));
        // The density sampler's first tick comes a minute after start-up, possibly after this test: take a sample
        // now, while the real agent's node reports its running VM.
        series.sampleNow();
        browser.signIn(Api.ADMIN);
        for (String page : List.of("/ui", "/ui/nodes", "/ui/sandboxes", "/ui/density?window=15m", "/ui/boot-times?window=1h")) {
            browser.open(page);
            browser.waitForPath(page.replaceAll("\\?.*", ""));
            assertFalse(browser.present("#problem"), page + " shows a problem");
            switch (page) {
                case "/ui/nodes" -> browser.waitForText("#node-" + nodeName, "READY");
                // Charts drawn from what the real agent reported: its node's samples, its VMs' boot times.
                case "/ui/density?window=15m" -> browser.waitForText("#density-summary", "nodes sampled");
                case "/ui/boot-times?window=1h" -> browser.waitForText("#boot-summary", "boots");
                default -> { }
            }
            browser.screenshot("agent-" + (page.equals("/ui") ? "overview" : page.substring(4).replaceAll("\\?.*", "")));
        }
        Api.as(Api.ADMIN).delete("/api/v1/sandboxes/" + id);
    }
}
