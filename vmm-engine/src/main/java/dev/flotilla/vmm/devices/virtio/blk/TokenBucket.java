package dev.flotilla.vmm.devices.virtio.blk;

/**
 * A token bucket in the Firecracker style: holds at most {@code capacity} tokens, refills
 * {@code capacity} tokens per {@code refillNanos}, starts full. A request larger than the whole
 * bucket is let through when the bucket is full (and empties it), so it is slowed, never starved.
 * Not thread-safe: one event loop drives it. Allocation-free.
 */
public final class TokenBucket {

    private final long capacity;
    private final long refillNanos;
    private long tokens;
    private long lastRefill;

    /** @param now the clock's current reading (nanoseconds) */
    public TokenBucket(long capacity, long refillNanos, long now) {
        if (capacity <= 0 || refillNanos <= 0) {
            throw new IllegalArgumentException("a token bucket needs a positive size and refill time, not %d per %d ns"
                    .formatted(capacity, refillNanos));
        }
        this.capacity = capacity;
        this.refillNanos = refillNanos;
        this.tokens = capacity;
        this.lastRefill = now;
    }

    public long capacity() {
        return capacity;
    }

    /** Tokens available at {@code now}. */
    public long available(long now) {
        refill(now);
        return tokens;
    }

    /** True (and the tokens are taken) when {@code amount} is available at {@code now}. */
    public boolean tryConsume(long amount, long now) {
        if (!canConsume(amount, now)) {
            return false;
        }
        tokens -= Math.min(amount, capacity);
        return true;
    }

    /** As {@link #tryConsume} without taking anything. */
    public boolean canConsume(long amount, long now) {
        refill(now);
        return tokens >= Math.min(amount, capacity);
    }

    /** Nanoseconds from {@code now} until {@code amount} tokens are available (0 when they are). */
    public long nanosUntilAvailable(long amount, long now) {
        refill(now);
        long missing = Math.min(amount, capacity) - tokens;
        if (missing <= 0) {
            return 0;
        }
        return mulDiv(missing, refillNanos, capacity) + 1; // +1: never wake a nanosecond early
    }

    private void refill(long now) {
        long elapsed = now - lastRefill;
        if (elapsed <= 0) {
            return;
        }
        if (elapsed >= refillNanos) {
            tokens = capacity;
            lastRefill = now;
            return;
        }
        long add = mulDiv(elapsed, capacity, refillNanos);
        if (add == 0) {
            return; // keep lastRefill so the fractions add up
        }
        tokens = Math.min(capacity, tokens + add);
        // Advance by the time those tokens took, keeping the remainder for the next refill.
        lastRefill += mulDiv(add, refillNanos, capacity);
    }

    /** a * b / c for non-negative values, exact while a * b fits in a long, approximate beyond. */
    private static long mulDiv(long a, long b, long c) {
        long high = Math.multiplyHigh(a, b);
        long product = a * b;
        if (high == 0 && product >= 0) {
            return product / c;
        }
        return (long) ((double) a * b / c);
    }
}
