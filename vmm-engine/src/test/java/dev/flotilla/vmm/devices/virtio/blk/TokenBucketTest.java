package dev.flotilla.vmm.devices.virtio.blk;

import org.junit.jupiter.api.Test;

import java.util.Optional;

import static org.junit.jupiter.api.Assertions.*;

class TokenBucketTest {

    static final long MS = 1_000_000;

    @Test
    void newBucket_isFull() {
        TokenBucket b = new TokenBucket(1000, 100 * MS, 0);
        assertEquals(1000, b.available(0));
    }

    @Test
    void consume_beyondAvailable_refused() {
        TokenBucket b = new TokenBucket(1000, 100 * MS, 0);
        assertTrue(b.tryConsume(800, 0));
        assertFalse(b.tryConsume(300, 0));
        assertEquals(200, b.available(0));
    }

    @Test
    void refill_isProportionalToElapsedTime() {
        TokenBucket b = new TokenBucket(1000, 100 * MS, 0);
        b.tryConsume(1000, 0);
        assertEquals(250, b.available(25 * MS));
        assertEquals(1000, b.available(500 * MS), "never above capacity");
    }

    @Test
    void refill_smallStepsAddUp() {
        TokenBucket b = new TokenBucket(10, 100 * MS, 0);
        b.tryConsume(10, 0);
        for (long t = 1; t <= 100; t++) {
            b.available(t * MS); // each step alone is worth a tenth of a token
        }
        assertEquals(10, b.available(100 * MS));
    }

    @Test
    void nanosUntilAvailable_predictsTheRefill() {
        TokenBucket b = new TokenBucket(1000, 100 * MS, 0);
        b.tryConsume(1000, 0);
        long wait = b.nanosUntilAvailable(500, 0);
        assertTrue(wait >= 50 * MS && wait <= 50 * MS + 10, "wait " + wait);
        assertTrue(b.canConsume(500, wait));
    }

    @Test
    void requestLargerThanCapacity_passesOnAFullBucket() {
        TokenBucket b = new TokenBucket(1000, 100 * MS, 0);
        assertTrue(b.tryConsume(5000, 0));
        assertEquals(0, b.available(0));
        assertFalse(b.tryConsume(5000, 50 * MS));
    }

    @Test
    void invalidSize_refused() {
        assertThrows(IllegalArgumentException.class, () -> new TokenBucket(0, MS, 0));
    }

    @Test
    void rateLimiter_bothBucketsMustPay() {
        RateLimiter r = new RateLimiter(Optional.of(new RateLimiter.Limit(4096, 1000)), Optional.of(new RateLimiter.Limit(2, 1000)), 0);
        assertTrue(r.tryAcquire(1024, 0));
        assertTrue(r.tryAcquire(1024, 0));
        assertFalse(r.tryAcquire(1024, 0), "ops exhausted although bandwidth remains");
        assertTrue(r.nanosUntilAvailable(1024, 0) > 0);
    }

    @Test
    void rateLimiter_refusalTakesNothing() {
        RateLimiter s = new RateLimiter(Optional.of(new RateLimiter.Limit(100, 1000)), Optional.of(new RateLimiter.Limit(5, 1000)), 0);
        s.tryAcquire(100, 0);
        assertFalse(s.tryAcquire(50, 0));
        assertTrue(s.tryAcquire(0, 0), "the refused request did not spend an op token");
    }
}
