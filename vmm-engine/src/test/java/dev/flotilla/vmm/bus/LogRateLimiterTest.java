package dev.flotilla.vmm.bus;

import org.junit.jupiter.api.Test;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

class LogRateLimiterTest {

    @Test
    void tryAcquire_beyondBurst_isRefusedAndCounted() {
        LogRateLimiter limiter = new LogRateLimiter(2, 1);
        long now = System.nanoTime();
        assertTrue(limiter.tryAcquire(now));
        assertTrue(limiter.tryAcquire(now));
        assertFalse(limiter.tryAcquire(now));
        assertFalse(limiter.tryAcquire(now));
        assertEquals(2, limiter.takeSuppressed());
        assertEquals(0, limiter.takeSuppressed());
    }

    @Test
    void tryAcquire_afterRefillTime_isAllowedAgain() {
        LogRateLimiter limiter = new LogRateLimiter(1, 1);
        long now = System.nanoTime();
        assertTrue(limiter.tryAcquire(now));
        assertFalse(limiter.tryAcquire(now + 500_000_000L));
        assertTrue(limiter.tryAcquire(now + 1_100_000_000L));
    }
}
