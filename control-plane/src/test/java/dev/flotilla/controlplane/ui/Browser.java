package dev.flotilla.controlplane.ui;

import org.openqa.selenium.By;
import org.openqa.selenium.Dimension;
import org.openqa.selenium.JavascriptExecutor;
import org.openqa.selenium.OutputType;
import org.openqa.selenium.StaleElementReferenceException;
import org.openqa.selenium.TakesScreenshot;
import org.openqa.selenium.WebDriver;
import org.openqa.selenium.WebElement;
import org.openqa.selenium.chrome.ChromeDriver;
import org.openqa.selenium.chrome.ChromeDriverService;
import org.openqa.selenium.chrome.ChromeOptions;
import org.openqa.selenium.support.ui.WebDriverWait;

import java.io.File;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.function.Function;

/**
 * Headless Debian Chromium driven by Debian's chromedriver (never a downloaded browser or driver), with the waits
 * and screenshots the dashboard tests need. Screenshots go to {@code target/ui-screenshots}. The binaries can be moved
 * with the system properties browser-tests.chromium / browser-tests.chromedriver (not flotilla.*: the application's
 * configuration would reject unknown keys under its prefix).
 */
final class Browser implements AutoCloseable {
    static final Path SCREENSHOTS = Path.of("target", "ui-screenshots");
    private static final String CHROMIUM = System.getProperty("browser-tests.chromium", "/usr/bin/chromium");
    private static final String CHROMEDRIVER = System.getProperty("browser-tests.chromedriver", "/usr/bin/chromedriver");
    /** Generous: the test machine is shared, and a live update takes a heartbeat plus an SSE tick. */
    static final Duration WAIT = Duration.ofSeconds(40);

    final ChromeDriver driver;
    private final String baseUrl;

    Browser(String baseUrl) {
        if (!new File(CHROMIUM).canExecute() || !new File(CHROMEDRIVER).canExecute()) {
            throw new IllegalStateException("the browser tests need Debian's chromium and chromium-driver packages ("
                    + CHROMIUM + ", " + CHROMEDRIVER + "): apt-get install chromium chromium-driver");
        }
        this.baseUrl = baseUrl;
        ChromeOptions options = new ChromeOptions();
        options.setBinary(CHROMIUM);
        options.addArguments("--headless=new", "--no-sandbox", "--disable-dev-shm-usage", "--disable-gpu",
                "--window-size=1280,900", "--lang=en-US", "--disable-renderer-backgrounding",
                "--disable-background-timer-throttling");
        // DOMContentLoaded is enough: the pages' scripts run then; waiting for every subresource only adds time.
        options.setPageLoadStrategy(org.openqa.selenium.PageLoadStrategy.EAGER);
        ChromeDriverService service = new ChromeDriverService.Builder().usingDriverExecutable(new File(CHROMEDRIVER))
                .usingAnyFreePort().build();
        driver = new ChromeDriver(service, options);
        driver.manage().timeouts().pageLoadTimeout(WAIT);
    }

    /**
     * Navigates to a dashboard path. On a loaded CI machine Chromium's renderer occasionally misses the driver's
     * deadline for a navigation; that one navigation is retried once before the test fails.
     */
    void open(String path) {
        try {
            driver.get(baseUrl + path);
        } catch (org.openqa.selenium.TimeoutException slowRenderer) {
            driver.get(baseUrl + path);
        }
    }

    WebElement find(String css) {
        return driver.findElement(By.cssSelector(css));
    }

    /** The text of an element, read again if a live update replaced it meanwhile. */
    String text(String css) {
        return waitFor("the text of '" + css + "'", d -> d.findElement(By.cssSelector(css)).getText());
    }

    /** Clicks an element, finding it again if a live update replaced it between finding and clicking. */
    void click(String css) {
        waitFor("'" + css + "' to be clickable", d -> {
            d.findElement(By.cssSelector(css)).click();
            return true;
        });
    }

    boolean present(String css) {
        return !driver.findElements(By.cssSelector(css)).isEmpty();
    }

    <T> T waitFor(String what, Function<WebDriver, T> condition) {
        // Live updates replace fragments at any moment: an element found a moment ago may be gone; look again.
        return new WebDriverWait(driver, WAIT).withMessage(what).pollingEvery(Duration.ofMillis(100))
                .ignoring(StaleElementReferenceException.class).until(condition);
    }

    /** Waits until the element's text contains the expected text. */
    void waitForText(String css, String expected) {
        waitFor("'" + css + "' to show '" + expected + "'", d -> {
            var elements = d.findElements(By.cssSelector(css));
            return !elements.isEmpty() && elements.get(0).getText().contains(expected);
        });
    }

    /** Waits until a full page load of {@code path} (also a boosted navigation) has finished. */
    void waitForPath(String path) {
        waitFor("the browser to reach " + path, d -> {
            String url = d.getCurrentUrl();
            return url != null && url.startsWith(baseUrl + path) && "complete".equals(script("return document.readyState"));
        });
    }

    Object script(String javascript, Object... arguments) {
        return ((JavascriptExecutor) driver).executeScript(javascript, arguments);
    }

    /**
     * POSTs to a dashboard path from the current page, as its own scripts would (its cookie and Origin), and returns
     * the response status. A request that fails or gets no answer within 20 s fails the test with what the browser
     * saw, rather than a bare script timeout.
     */
    long post(String path) {
        Object result = driver.executeAsyncScript("""
                var path = arguments[0], done = arguments[arguments.length - 1];
                var abort = new AbortController();
                var timer = setTimeout(function () { abort.abort(); }, 20000);
                fetch(path, { method: 'POST', signal: abort.signal })
                    .then(function (r) { clearTimeout(timer); done(r.status); })
                    .catch(function (e) {
                        var pending = performance.getEntriesByType('resource')
                            .filter(function (r) { return r.responseEnd === 0; })
                            .map(function (r) { return r.name; });
                        done('POST ' + path + ' failed: ' + e.name + ': ' + e.message
                            + '; requests still open: ' + JSON.stringify(pending));
                    });""", path);
        if (result instanceof Long status) {
            return status;
        }
        throw new AssertionError(String.valueOf(result));
    }

    /** Marks the current document; {@link #samePageLoad()} is false after any full reload. */
    void markPageLoad() {
        script("window.__flotillaMarker = 'kept';");
    }

    boolean samePageLoad() {
        return "kept".equals(script("return window.__flotillaMarker || null;"));
    }

    void resize(int width, int height) {
        driver.manage().window().setSize(new Dimension(width, height));
    }

    void screenshot(String name) {
        try {
            Files.createDirectories(SCREENSHOTS);
            File file = ((TakesScreenshot) driver).getScreenshotAs(OutputType.FILE);
            Files.copy(file.toPath(), SCREENSHOTS.resolve(name + ".png"), java.nio.file.StandardCopyOption.REPLACE_EXISTING);
        } catch (IOException e) {
            throw new UncheckedIOException("saving screenshot " + name + " failed", e);
        }
    }

    void signIn(String token) {
        open("/ui/login");
        find("#token").sendKeys(token);
        find("#sign-in").click();
        waitFor("the sign-in to leave the login page", d -> !d.getCurrentUrl().contains("/ui/login"));
    }

    void signOut() {
        driver.manage().deleteAllCookies();
    }

    @Override
    public void close() {
        driver.quit();
    }
}
