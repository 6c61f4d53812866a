package dev.flotilla.vmm.devices.virtio;

import java.util.concurrent.atomic.AtomicLong;

/**
 * A logger for anything a guest can trigger: at most {@code burst} messages per {@code period},
 * the rest counted and summarised in the next message that gets through. A hostile guest can
 * produce millions of bad requests a second; the host log must not become the attack.
 *
 * <p>Call sites ask first, so a suppressed message costs no formatting or boxing:
 * <pre>{@code if (log.shouldLog()) log.warn("queue %d: ...".formatted(index)); }</pre>
 */
public final class RateLimitedLog {

    private final System.Logger logger;
    private final int burst;
    private final long periodNanos;
    private long windowStart;
    private int emittedInWindow;
    private final AtomicLong suppressed = new AtomicLong();

    public RateLimitedLog(System.Logger logger, int burst, long periodNanos) {
        if (burst < 1 || periodNanos < 1) {
            throw new IllegalArgumentException("burst and period must be positive");
        }
        this.logger = logger;
        this.burst = burst;
        this.periodNanos = periodNanos;
        this.windowStart = System.nanoTime();
    }

    /** Ten messages per second: enough to diagnose, too few to flood. */
    public static RateLimitedLog forClass(Class<?> owner) {
        return new RateLimitedLog(System.getLogger(owner.getName()), 10, 1_000_000_000L);
    }

    /** True when the next message may be emitted; counts it as suppressed otherwise. */
    public synchronized boolean shouldLog() {
        long now = System.nanoTime();
        if (now - windowStart >= periodNanos) {
            windowStart = now;
            emittedInWindow = 0;
        }
        if (emittedInWindow < burst) {
            emittedInWindow++;
            return true;
        }
        suppressed.incrementAndGet();
        return false;
    }

    public void warn(String message) {
        emit(System.Logger.Level.WARNING, message);
    }

    public void info(String message) {
        emit(System.Logger.Level.INFO, message);
    }

    /** Messages dropped by the limiter since the start. */
    public long suppressedCount() {
        return suppressed.get();
    }

    private long reportedSuppressed;

    private void emit(System.Logger.Level level, String message) {
        long total = suppressed.get();
        long sinceLast;
        synchronized (this) {
            sinceLast = total - reportedSuppressed;
            reportedSuppressed = total;
        }
        logger.log(level, sinceLast == 0 ? message : message + " (" + sinceLast + " similar messages suppressed)");
    }
}
