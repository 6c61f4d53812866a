package dev.flotilla.vmm.devices.virtio;

import org.junit.jupiter.api.Test;

import static org.junit.jupiter.api.Assertions.*;

class RateLimitedLogTest {

    final RateLimitedLog log = new RateLimitedLog(System.getLogger("test"), 2, 60_000_000_000L);

    @Test
    void shouldLog_withinBurst_allowed() {
        assertTrue(log.shouldLog());
        assertTrue(log.shouldLog());
    }

    @Test
    void shouldLog_beyondBurstInSamePeriod_suppressedAndCounted() {
        log.shouldLog();
        log.shouldLog();

        assertFalse(log.shouldLog());
        assertFalse(log.shouldLog());
        assertEquals(2, log.suppressedCount());
    }

    @Test
    void shouldLog_afterPeriod_allowedAgain() throws InterruptedException {
        RateLimitedLog fast = new RateLimitedLog(System.getLogger("test"), 1, 200_000_000L);
        fast.shouldLog();
        assertFalse(fast.shouldLog());

        Thread.sleep(250);

        assertTrue(fast.shouldLog());
    }
}
