package dev.flotilla.controlplane.ui;

import dev.flotilla.contract.v1.NodeCapacity;
import dev.flotilla.controlplane.testing.Api;
import dev.flotilla.controlplane.testing.FakeNodeAgent;
import io.quarkus.test.junit.QuarkusTest;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.openqa.selenium.By;
import org.openqa.selenium.WebElement;

import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.UUID;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * The dashboard in headless Chromium against the running control plane on its embedded PostgreSQL, with a node
 * agent on the wire (FakeNodeAgent: real HTTP, registration and heartbeats) so sandboxes are placed and run.
 * Screenshots of every page land in target/ui-screenshots.
 */
@QuarkusTest
class DashboardBrowserIT {
    private static Browser browser;
    private static FakeNodeAgent node;

    @BeforeEach
    void start() throws Exception {
        if (browser == null) {
            browser = new Browser(Api.baseUrl());
        }
        if (node == null) {
            node = FakeNodeAgent.isolated("ui-" + suffix(), Api.baseUrl(), new NodeCapacity(16, 32768, 50),
                    Map.of("zone", "a"));
            node.register(Api.JOIN);
        }
        browser.signOut();
        browser.resize(1280, 900);
    }

    @AfterAll
    static void stop() {
        if (browser != null) {
            browser.close();
            browser = null;
        }
        if (node != null) {
            node.close();
            node = null;
        }
    }

    private static String suffix() {
        return UUID.randomUUID().toString().substring(0, 8);
    }

    /** Creates a sandbox on the test node through the API; returns its id. */
    private static String createThroughApi(String name) {
        Map<String, Object> spec = new HashMap<>();
        spec.put("name", name);
        spec.put("image", "docker.io/library/busybox:1.36");
        spec.put("vcpus", 1);
        spec.put("memoryMiB", 128);
        spec.put("labels", Map.of("suite", "browser"));
        spec.put("tolerations", List.of(FakeNodeAgent.toleration(node.name())));
        return Api.as(Api.ADMIN).body(spec).post("/api/v1/sandboxes").then().statusCode(201).extract().path("id");
    }

    private static int apiStatus(String id) {
        return Api.as(Api.READER).get("/api/v1/sandboxes/" + id).then().extract().statusCode();
    }

    private static void type(String css, String text) {
        WebElement field = browser.find(css);
        field.clear();
        field.sendKeys(text);
    }

    @Test
    void login_unknownToken_showsReadableErrorAndStaysOnLogin() {
        browser.open("/ui/sandboxes");
        browser.waitForPath("/ui/login");
        browser.find("#token").sendKeys("not-a-token");
        browser.click("#sign-in");

        browser.waitForText("#login-error", "not known to this control plane");
        assertTrue(browser.driver.getCurrentUrl().contains("/ui/login"));
        browser.screenshot("login-error");
    }

    @Test
    void login_adminToken_returnsToTheRequestedPage() {
        browser.open("/ui/nodes");
        browser.waitForPath("/ui/login");
        browser.screenshot("login");
        browser.find("#token").sendKeys(Api.ADMIN);
        browser.click("#sign-in");

        browser.waitForPath("/ui/nodes");
        assertEquals("admin", browser.text("#role"));
    }

    @Test
    void createForm_invalidInput_showsTheApisValidationMessages() {
        browser.signIn(Api.ADMIN);
        browser.open("/ui/sandboxes/new");
        type("#name", "Not_A_DNS_Label");
        type("#image", "busybox");
        type("#vcpus", "0");
        type("#memoryMiB", "8");
        browser.click("#create");

        browser.waitForText("#problem", "the request is invalid");
        assertEquals("name must be a DNS label: lower-case letters, digits and '-'", browser.text("#name-error"));
        assertEquals("vcpus must be greater than or equal to 1", browser.text("#vcpus-error"));
        assertEquals("memoryMiB must be greater than or equal to 16", browser.text("#memoryMiB-error"));
        assertEquals("true", browser.find("#vcpus").getDomAttribute("aria-invalid"));
        assertEquals("Not_A_DNS_Label", browser.find("#name").getDomProperty("value"), "what was typed is kept");
        browser.screenshot("create-validation-errors");
    }

    @Test
    void createForm_nameTaken_showsTheApisConflictMessage() {
        String name = "taken-" + suffix();
        createThroughApi(name);
        browser.signIn(Api.ADMIN);
        browser.open("/ui/sandboxes/new");
        type("#name", name);
        type("#image", "busybox");
        browser.click("#create");

        browser.waitForText("#problem", "a sandbox named '" + name + "' already exists");
        assertTrue(browser.text("#problem").contains("Conflict (409)"));
    }

    @Test
    void createForm_validSandbox_isPlacedAndTurnsRunningWithoutReload() {
        String name = "form-" + suffix();
        browser.signIn(Api.ADMIN);
        browser.open("/ui/sandboxes/new");
        type("#name", name);
        type("#image", "docker.io/library/busybox:1.36");
        type("#command", "sh\n-c\necho hello");
        type("#labels", "app=web, suite=browser");
        browser.click("details summary");
        type("#tolerations", FakeNodeAgent.DEDICATED + "=" + node.name() + ":NoSchedule");
        browser.screenshot("create-form");
        // The agent refuses the first launch calls, so the page opens before the VM runs (retries back off ~5 s).
        node.failNextCalls.set(8);
        browser.click("#create");

        browser.waitFor("the sandbox page to open", d -> d.getCurrentUrl().matches(".*/ui/sandboxes/[0-9a-f-]{36}$"));
        browser.waitForText("#notice", "placed on node " + node.name());
        browser.markPageLoad();
        assertFalse(browser.waitFor("the state", d -> d.findElement(By.id("sandbox-state")).getText()).equals("RUNNING"),
                "the VM cannot run yet");
        browser.waitForText("#sandbox-state", "RUNNING");
        assertTrue(browser.samePageLoad(), "the state changed by a live update, not a page reload");
        browser.waitForText("#events", "Launched");
        assertEquals(node.name(), browser.text("#sandbox-node"));
        // This node agent speaks only the sandbox contract: the relayed console must say so in words.
        browser.waitForText("#console-status", "does not serve a console WebSocket");
        assertTrue(browser.text("#console-status").startsWith("Bad Gateway (502)"));
        browser.screenshot("sandbox-detail");
    }

    @Test
    void sandboxList_sandboxCreatedElsewhere_appearsWithoutReload() {
        browser.signIn(Api.ADMIN);
        browser.open("/ui/sandboxes?label=suite%3Dbrowser");
        browser.waitForPath("/ui/sandboxes");
        browser.markPageLoad();
        String name = "live-" + suffix();

        createThroughApi(name);

        browser.waitFor("the new sandbox's row", d -> !d.findElements(By.id("sandbox-" + name)).isEmpty());
        browser.waitForText("#state-" + name, "RUNNING");
        assertTrue(browser.samePageLoad(), "the row arrived by a live update, not a page reload");
        browser.screenshot("sandboxes");
    }

    @Test
    void sandboxList_filters_showOnlyMatchingSandboxes() {
        String kept = "filter-" + suffix();
        createThroughApi(kept);
        browser.signIn(Api.ADMIN);
        browser.open("/ui/sandboxes");
        type("#filter-label", "suite=nothing-matches");
        browser.click("#apply-filters");

        browser.waitForText("#no-sandboxes", "No sandbox matches these filters.");
        type("#filter-label", "suite=browser");
        browser.click("#apply-filters");
        browser.waitFor("the matching row", d -> !d.findElements(By.id("sandbox-" + kept)).isEmpty());
        type("#filter-label", "not a selector");
        browser.click("#apply-filters");
        browser.waitForText("#problem", "label");
    }

    @Test
    void sandboxDetail_delete_removesTheSandboxAndTheListDropsIt() {
        String name = "doomed-" + suffix();
        String id = createThroughApi(name);
        browser.signIn(Api.ADMIN);
        browser.open("/ui/sandboxes/" + id);
        browser.waitForText("#sandbox-state", "RUNNING");

        // The agent refuses the first delete calls, so the list shows the sandbox DELETING before it goes.
        node.failNextCalls.set(8);
        browser.click("#delete");
        browser.driver.switchTo().alert().accept();

        browser.waitForPath("/ui/sandboxes");
        browser.waitForText("#notice", "Sandbox " + name + " is being removed from node " + node.name());
        browser.markPageLoad();
        assertEquals("DELETING", browser.waitFor("the row's state", d -> d.findElement(By.id("state-" + name)).getText()));
        browser.waitFor("the deleted sandbox's row to go", d -> d.findElements(By.id("sandbox-" + name)).isEmpty());
        assertTrue(browser.samePageLoad());
        assertEquals(404, apiStatus(id));
        assertFalse(node.vms().containsKey(id), "the node agent was told to remove the VM");
    }

    @Test
    void nodes_cordonAndUncordon_changeTheNode() {
        browser.signIn(Api.ADMIN);
        browser.open("/ui/nodes");
        browser.click("#cordon-" + node.name());

        browser.waitForText("#notice", "Node " + node.name() + " is cordoned");
        assertTrue(browser.present("#cordoned-" + node.name()));
        Api.as(Api.READER).get("/api/v1/nodes/" + node.name()).then().body("cordoned", org.hamcrest.Matchers.is(true));
        browser.screenshot("nodes");
        browser.click("#uncordon-" + node.name());
        browser.waitForText("#notice", "takes new sandboxes again");
        assertFalse(browser.present("#cordoned-" + node.name()));
    }

    @Test
    void sandboxDetail_nodeReportsAConsoleUrl_showsItsAddressBesideTheRelayedConsole() {
        String id = createThroughApi("console-" + suffix());
        String url = "ws://127.0.0.1:9/v1/sandboxes/" + id + "/console";
        node.consoleUrls.put(id, url);
        browser.signIn(Api.ADMIN);
        browser.open("/ui/sandboxes/" + id);

        browser.waitForText("#console-link", url);
        assertTrue(browser.present("[data-logs='/ui/sandboxes/" + id + "/logs/stream']"),
                "the viewer reads through the control plane, not from the published address");
        assertFalse(browser.present("#console-unavailable"));
    }

    @Test
    void sandboxDetail_sandboxOnNoNode_saysWhyThereIsNoConsole() {
        Map<String, Object> spec = new HashMap<>();
        spec.put("name", "nowhere-" + suffix());
        spec.put("image", "flotilla/tiny");
        spec.put("vcpus", 1);
        spec.put("memoryMiB", 64);
        spec.put("nodeSelector", Map.of("zone", "nowhere"));
        String id = Api.as(Api.ADMIN).body(spec).post("/api/v1/sandboxes").then().statusCode(201).extract().path("id");
        browser.signIn(Api.READER);
        browser.open("/ui/sandboxes/" + id);

        browser.waitForText("#console-unavailable", "this sandbox is on no node yet");
        assertFalse(browser.present("[data-logs]"));
        Api.as(Api.ADMIN).delete("/api/v1/sandboxes/" + id).then().statusCode(200);
    }

    @Test
    void readOnlyUser_seesNoMutatingControls() {
        String id = createThroughApi("ro-" + suffix());
        browser.signIn(Api.READER);

        browser.open("/ui/nodes");
        assertEquals("read-only", browser.text("#role"));
        assertTrue(browser.present("#node-" + node.name()));
        assertFalse(browser.present("button[id^=cordon-]") || browser.present("button[id^=drain-]"));
        browser.screenshot("nodes-read-only");
        browser.open("/ui/sandboxes/" + id);
        browser.waitForText("#sandbox-state", "RUNNING");
        assertFalse(browser.present("#delete") || browser.present("#stop") || browser.present("#start"));
        assertFalse(browser.present("a[href='/ui/sandboxes/new']"), "no link to the create form");
        browser.screenshot("sandbox-detail-read-only");
        browser.open("/ui/sandboxes/new");
        assertFalse(browser.present("#create"));
        browser.waitForText("#problem", "read-only token lacks the WRITE scope");
    }

    @Test
    void readOnlyUser_postingAnActionAnyway_isRefused() {
        String id = createThroughApi("ro-post-" + suffix());
        browser.signIn(Api.READER);
        browser.open("/ui/sandboxes/" + id);

        assertEquals(403L, browser.post("/ui/sandboxes/" + id + "/delete"));
        assertEquals(200, apiStatus(id));
    }

    @Test
    void manyPagesVisitedInARow_leaveConnectionsForTheNextRequest() {
        // Each dashboard page holds a live-update stream (and a sandbox page its console). Pages left behind may stay
        // in the back/forward cache; if their streams stayed open, six of them would take every HTTP/1.1 connection
        // the browser allows per server and the next request would wait forever.
        String id = createThroughApi("many-pages-" + suffix());
        browser.signIn(Api.READER);
        for (String page : List.of("/ui", "/ui/nodes", "/ui/sandboxes", "/ui/sandboxes/" + id, "/ui/density?window=15m",
                "/ui/boot-times?window=1h", "/ui/sandboxes/" + id, "/ui/nodes", "/ui", "/ui/sandboxes/" + id)) {
            long start = System.nanoTime();
            browser.open(page);
            browser.waitFor("the live-update stream of " + page,
                    d -> Boolean.TRUE.equals(browser.script("return document.getElementById('connection').hidden")));
            // Not a speed figure: a page queued behind held connections waits for the driver's 40 s timeout.
            long millis = (System.nanoTime() - start) / 1_000_000;
            assertTrue(millis < 15_000, page + " took " + millis + " ms to load and connect: its requests waited for a connection");
        }
        assertEquals(403L, browser.post("/ui/sandboxes/" + id + "/stop"));
    }

    @Test
    void charts_withHeartbeatSamples_drawDensityAndBootTimes() {
        createThroughApi("chart-" + suffix());
        browser.signIn(Api.ADMIN);
        browser.open("/ui/boot-times?window=1h");
        browser.waitFor("the boot-time chart data", d -> "true".equals(browser.find("[data-chart]").getDomAttribute("data-loaded"))
                && browser.text("#boot-summary").contains("boots"));
        assertTrue((Boolean) browser.script("return Chart.getChart(document.getElementById('boot-histogram')) != null"));
        browser.screenshot("boot-times");

        browser.open("/ui/density?window=15m");
        browser.waitFor("density samples of the test node", d -> browser.text("#density-summary").contains("nodes sampled"));
        Long datasets = (Long) browser.script(
                "return Chart.getChart(document.getElementById('density-vms')).data.datasets.length");
        assertTrue(datasets >= 2, "a line per node plus the fleet mean, got " + datasets);
        browser.screenshot("density");
    }

    @Test
    void overview_showsFleetTotalsAndFitsAPhone() {
        createThroughApi("overview-" + suffix());
        browser.signIn(Api.ADMIN);
        browser.open("/ui");
        browser.waitFor("a running VM counted", d -> !browser.text("#vms-running").equals("0"));
        assertFalse(browser.text("#nodes-total").equals("0"));
        browser.screenshot("overview");

        browser.resize(390, 844);
        browser.open("/ui");
        long overflow = (Long) browser.script("return document.documentElement.scrollWidth - window.innerWidth");
        assertTrue(overflow <= 0, "the overview scrolls sideways on a phone by " + overflow + " px");
        browser.screenshot("overview-phone");
        browser.open("/ui/nodes");
        browser.screenshot("nodes-phone");
    }

    @Test
    void keyboard_skipLinkAndNavigation_areReachableByTab() {
        browser.signIn(Api.ADMIN);
        browser.open("/ui");
        browser.find("body").sendKeys(org.openqa.selenium.Keys.TAB);
        assertEquals("Skip to content", browser.driver.switchTo().activeElement().getText());
        browser.driver.switchTo().activeElement().sendKeys(org.openqa.selenium.Keys.TAB);
        assertEquals("Flotilla", browser.driver.switchTo().activeElement().getText());
    }
}
