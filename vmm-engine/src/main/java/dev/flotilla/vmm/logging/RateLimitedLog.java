package dev.flotilla.vmm.logging;

import java.util.function.Supplier;

/**
 * A logger for anything a guest can trigger, behind a token bucket: at most {@code burst}
 * messages at once, refilled at {@code perSecond}; the rest are counted, and the next message
 * that gets through says how many were dropped since the previous one. A hostile guest can
 * produce millions of bad requests a second; the host log must not become the attack.
 *
 * <p>Call sites ask first, so a suppressed message costs no formatting or boxing:
 * <pre>{@code if (log.shouldLog()) log.warn("queue %d: ...".formatted(index)); }</pre>
 * Asking is allocation-free.
 */
public final class RateLimitedLog {

    /** Ten messages at once, ten a second after that: enough to diagnose, too few to flood. */
    public static final int DEFAULT_BURST = 10;
    public static final int DEFAULT_PER_SECOND = 10;

    private final System.Logger logger;
    private final int burst;
    private final double tokensPerNano;
    private double tokens;
    private long lastRefill;
    private long suppressed;
    private long reportedSuppressed;

    public RateLimitedLog(System.Logger logger, int burst, int perSecond) {
        if (burst < 1 || perSecond < 1) {
            throw new IllegalArgumentException("burst and rate must be positive, not %d and %d/s".formatted(burst, perSecond));
        }
        this.logger = logger;
        this.burst = burst;
        this.tokensPerNano = perSecond / 1e9;
        this.tokens = burst;
        this.lastRefill = System.nanoTime();
    }

    /** A limiter with the {@link #DEFAULT_BURST default limits} over the logger named after {@code owner}. */
    public static RateLimitedLog forClass(Class<?> owner) {
        return new RateLimitedLog(System.getLogger(owner.getName()), DEFAULT_BURST, DEFAULT_PER_SECOND);
    }

    /** True when a message may be emitted now; counts it as suppressed otherwise. */
    public boolean shouldLog() {
        return shouldLog(System.nanoTime());
    }

    /** {@link #shouldLog()} at {@code nowNanos} (a {@link System#nanoTime()} reading). */
    public synchronized boolean shouldLog(long nowNanos) {
        tokens = Math.min(burst, tokens + Math.max(0, nowNanos - lastRefill) * tokensPerNano);
        lastRefill = nowNanos;
        if (tokens >= 1) {
            tokens -= 1;
            return true;
        }
        suppressed++;
        return false;
    }

    public void warn(String message) {
        emit(System.Logger.Level.WARNING, message);
    }

    public void info(String message) {
        emit(System.Logger.Level.INFO, message);
    }

    /** At DEBUG, the message built only when that level is enabled. */
    public void debug(Supplier<String> message) {
        if (logger.isLoggable(System.Logger.Level.DEBUG)) {
            emit(System.Logger.Level.DEBUG, message.get());
        }
    }

    /** Messages dropped by the limiter since it was made. */
    public synchronized long suppressedCount() {
        return suppressed;
    }

    private void emit(System.Logger.Level level, String message) {
        long sinceLast;
        synchronized (this) {
            sinceLast = suppressed - reportedSuppressed;
            reportedSuppressed = suppressed;
        }
        logger.log(level, sinceLast == 0 ? message : message + " (" + sinceLast + " similar messages suppressed)");
    }
}
