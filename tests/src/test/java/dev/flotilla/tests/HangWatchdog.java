package dev.flotilla.tests;

import org.junit.jupiter.api.extension.AfterEachCallback;
import org.junit.jupiter.api.extension.BeforeEachCallback;
import org.junit.jupiter.api.extension.ExtensionContext;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Map;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.ScheduledFuture;
import java.util.concurrent.TimeUnit;

/**
 * Ends a hung end-to-end run instead of letting it sit until CI's limit: when one test runs longer
 * than {@code flotilla.e2e.testTimeoutSeconds} (default 600), prints every thread's stack (to
 * stdout and, when set, to {@code flotilla.results}/thread-dump.txt) and exits the JVM with status 3.
 * Registered for all tests through the ServiceLoader (junit-platform.properties enables autodetection).
 */
public final class HangWatchdog implements BeforeEachCallback, AfterEachCallback {

    private static final ScheduledExecutorService TIMER = Executors.newSingleThreadScheduledExecutor(r -> {
        Thread t = new Thread(r, "e2e-hang-watchdog");
        t.setDaemon(true);
        return t;
    });
    private static final Duration LIMIT = Duration.ofSeconds(Long.getLong("flotilla.e2e.testTimeoutSeconds", 600));

    @Override
    public void beforeEach(ExtensionContext context) {
        String name = context.getDisplayName() + " in " + context.getRequiredTestClass().getSimpleName();
        ScheduledFuture<?> alarm = TIMER.schedule(() -> dumpAndExit(name), LIMIT.toSeconds(), TimeUnit.SECONDS);
        context.getStore(ExtensionContext.Namespace.GLOBAL).put(HangWatchdog.class, alarm);
    }

    @Override
    public void afterEach(ExtensionContext context) {
        ScheduledFuture<?> alarm = context.getStore(ExtensionContext.Namespace.GLOBAL).remove(HangWatchdog.class, ScheduledFuture.class);
        if (alarm != null) {
            alarm.cancel(false);
        }
    }

    private static void dumpAndExit(String test) {
        StringBuilder dump = new StringBuilder("HANG: '" + test + "' ran longer than " + LIMIT + "; thread dump:\n");
        for (Map.Entry<Thread, StackTraceElement[]> e : Thread.getAllStackTraces().entrySet()) {
            Thread t = e.getKey();
            dump.append('\n').append('"').append(t.getName()).append("\" ").append(t.getState()).append('\n');
            for (StackTraceElement frame : e.getValue()) {
                dump.append("    at ").append(frame).append('\n');
            }
        }
        System.out.println(dump);
        String results = System.getProperty("flotilla.results");
        if (results != null) {
            try {
                Files.writeString(Path.of(results, "thread-dump.txt"), dump);
            } catch (IOException ignored) {
                // stdout has it
            }
        }
        System.out.flush();
        Runtime.getRuntime().halt(3);
    }
}
