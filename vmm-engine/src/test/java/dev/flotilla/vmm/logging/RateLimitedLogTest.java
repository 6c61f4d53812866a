package dev.flotilla.vmm.logging;

import org.junit.jupiter.api.Test;

import java.util.ArrayList;
import java.util.List;
import java.util.ResourceBundle;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

class RateLimitedLogTest {

    /** Keeps what reaches the logger. */
    static final class RecordingLogger implements System.Logger {
        final List<String> lines = new ArrayList<>();
        boolean debug = true;

        @Override
        public String getName() {
            return "test";
        }

        @Override
        public boolean isLoggable(Level level) {
            return level != Level.DEBUG || debug;
        }

        @Override
        public void log(Level level, ResourceBundle bundle, String msg, Throwable thrown) {
            lines.add(level + " " + msg);
        }

        @Override
        public void log(Level level, ResourceBundle bundle, String format, Object... params) {
            lines.add(level + " " + format);
        }
    }

    final RecordingLogger logger = new RecordingLogger();
    final long t0 = System.nanoTime();

    @Test
    void shouldLog_withinBurst_allowed() {
        RateLimitedLog log = new RateLimitedLog(logger, 2, 1);
        assertTrue(log.shouldLog(t0));
        assertTrue(log.shouldLog(t0));
    }

    @Test
    void shouldLog_beyondBurst_suppressedAndCounted() {
        RateLimitedLog log = new RateLimitedLog(logger, 2, 1);
        log.shouldLog(t0);
        log.shouldLog(t0);

        assertFalse(log.shouldLog(t0));
        assertFalse(log.shouldLog(t0));
        assertEquals(2, log.suppressedCount());
    }

    @Test
    void shouldLog_afterRefillTime_allowedAgain() {
        RateLimitedLog log = new RateLimitedLog(logger, 1, 1);
        assertTrue(log.shouldLog(t0));
        assertFalse(log.shouldLog(t0 + 500_000_000L));

        assertTrue(log.shouldLog(t0 + 1_100_000_000L));
    }

    @Test
    void shouldLog_longIdle_refillsNoMoreThanTheBurst() {
        RateLimitedLog log = new RateLimitedLog(logger, 2, 1);
        assertTrue(log.shouldLog(t0 + 3_600_000_000_000L));
        assertTrue(log.shouldLog(t0 + 3_600_000_000_000L));

        assertFalse(log.shouldLog(t0 + 3_600_000_000_000L));
    }

    @Test
    void warn_afterSuppressedMessages_saysHowManyOnce() {
        RateLimitedLog log = new RateLimitedLog(logger, 1, 1);
        log.shouldLog(t0);
        log.shouldLog(t0);
        log.shouldLog(t0);

        log.warn("bad request");
        log.warn("bad request");

        assertEquals(List.of("WARNING bad request (2 similar messages suppressed)", "WARNING bad request"), logger.lines);
    }

    @Test
    void debug_levelDisabled_neitherBuildsNorLogsTheMessage() {
        logger.debug = false;
        RateLimitedLog log = new RateLimitedLog(logger, 1, 1);

        log.debug(() -> {
            throw new AssertionError("built a message for a disabled level");
        });

        assertTrue(logger.lines.isEmpty());
    }
}
