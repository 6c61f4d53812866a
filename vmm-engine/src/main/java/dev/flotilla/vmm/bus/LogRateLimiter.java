package dev.flotilla.vmm.bus;

/**
 * A token bucket for log lines a guest can trigger: at most {@code burst} lines, refilled at
 * {@code perSecond}, so a guest hammering an unknown port cannot flood the host's log. Counts
 * what it suppressed so the next line can say so. Allocation-free.
 */
public final class LogRateLimiter {

    private final int burst;
    private final double perNano;
    private double tokens;
    private long last;
    private long suppressed;

    public LogRateLimiter(int burst, int perSecond) {
        if (burst < 1 || perSecond < 1) {
            throw new IllegalArgumentException("burst and rate must be positive");
        }
        this.burst = burst;
        this.perNano = perSecond / 1e9;
        this.tokens = burst;
        this.last = System.nanoTime();
    }

    /**
     * True when a line may be logged now. Returns false and counts the event otherwise.
     */
    public synchronized boolean tryAcquire(long nowNanos) {
        tokens = Math.min(burst, tokens + (nowNanos - last) * perNano);
        last = nowNanos;
        if (tokens >= 1) {
            tokens -= 1;
            return true;
        }
        suppressed++;
        return false;
    }

    public boolean tryAcquire() {
        return tryAcquire(System.nanoTime());
    }

    /** Events suppressed since the last call; resets the count. */
    public synchronized long takeSuppressed() {
        long s = suppressed;
        suppressed = 0;
        return s;
    }
}
