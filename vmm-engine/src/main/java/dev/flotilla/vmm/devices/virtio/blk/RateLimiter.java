package dev.flotilla.vmm.devices.virtio.blk;

import java.util.Optional;

/**
 * Firecracker-style I/O rate limiter: an optional bandwidth bucket (bytes) and an optional
 * operations bucket. A request passes only when both can pay, and then pays both.
 */
public final class RateLimiter {

    /** Up to {@code size} units per {@code refillMillis}: bytes for bandwidth, requests for ops. */
    public record Limit(long size, long refillMillis) {
        public Limit {
            if (size <= 0 || refillMillis <= 0) {
                throw new IllegalArgumentException("a rate limit needs a positive size and refill time, not %d per %d ms"
                        .formatted(size, refillMillis));
            }
        }
    }

    private final TokenBucket bandwidth;
    private final TokenBucket ops;

    public RateLimiter(Optional<Limit> bandwidth, Optional<Limit> ops, long now) {
        this.bandwidth = bandwidth.map(l -> new TokenBucket(l.size(), l.refillMillis() * 1_000_000, now)).orElse(null);
        this.ops = ops.map(l -> new TokenBucket(l.size(), l.refillMillis() * 1_000_000, now)).orElse(null);
    }

    /** A limiter that lets everything through. */
    public static RateLimiter unlimited() {
        return new RateLimiter(Optional.empty(), Optional.empty(), 0);
    }

    public boolean isUnlimited() {
        return bandwidth == null && ops == null;
    }

    /** True (and both buckets pay) when one request of {@code bytes} may go now. */
    public boolean tryAcquire(long bytes, long now) {
        if ((bandwidth != null && !bandwidth.canConsume(bytes, now)) || (ops != null && !ops.canConsume(1, now))) {
            return false;
        }
        if (bandwidth != null) {
            bandwidth.tryConsume(bytes, now);
        }
        if (ops != null) {
            ops.tryConsume(1, now);
        }
        return true;
    }

    /** Nanoseconds until a request of {@code bytes} could pass. */
    public long nanosUntilAvailable(long bytes, long now) {
        long b = bandwidth == null ? 0 : bandwidth.nanosUntilAvailable(bytes, now);
        long o = ops == null ? 0 : ops.nanosUntilAvailable(1, now);
        return Math.max(b, o);
    }
}
