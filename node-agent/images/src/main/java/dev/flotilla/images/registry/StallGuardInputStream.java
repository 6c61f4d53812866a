package dev.flotilla.images.registry;

import java.io.FilterInputStream;
import java.io.IOException;
import java.io.InputStream;
import java.time.Duration;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.ScheduledFuture;
import java.util.concurrent.TimeUnit;

/**
 * Fails a download that stops sending. The JDK HttpClient times out waiting for response headers
 * but not between body bytes, so a registry that goes quiet mid-blob would hang a pull (and hold
 * its locks) forever. A timer interrupts the reading thread when a read has made no progress for
 * the stall timeout; the read then fails with an IOException that says so.
 */
final class StallGuardInputStream extends FilterInputStream {
    private static final ScheduledExecutorService TIMER = Executors.newSingleThreadScheduledExecutor(runnable -> {
        Thread thread = new Thread(runnable, "flotilla-images-stall-guard");
        thread.setDaemon(true);
        return thread;
    });

    private final long timeoutNanos;
    private final String what;
    private final ScheduledFuture<?> check;
    private Thread reader;
    private boolean reading;
    private boolean stalled;
    private long lastProgress = System.nanoTime();

    StallGuardInputStream(InputStream in, Duration timeout, String what) {
        super(in);
        this.timeoutNanos = timeout.toNanos();
        this.what = what;
        long period = Math.max(50, timeout.toMillis() / 4);
        this.check = TIMER.scheduleAtFixedRate(this::checkProgress, period, period, TimeUnit.MILLISECONDS);
    }

    private synchronized void checkProgress() {
        if (reading && !stalled && System.nanoTime() - lastProgress > timeoutNanos) {
            stalled = true;
            reader.interrupt();
        }
    }

    @Override
    public int read() throws IOException {
        byte[] one = new byte[1];
        int n = read(one, 0, 1);
        return n < 0 ? -1 : one[0] & 0xff;
    }

    @Override
    public int read(byte[] buffer, int offset, int length) throws IOException {
        synchronized (this) {
            reader = Thread.currentThread();
            reading = true;
            lastProgress = System.nanoTime();
        }
        IOException failure = null;
        int n = -1;
        try {
            n = super.read(buffer, offset, length);
        } catch (IOException e) {
            failure = e;
        } finally {
            synchronized (this) {
                reading = false;
                lastProgress = System.nanoTime();
                if (stalled) {
                    // The interrupt was ours, not the caller's: clear it before reporting.
                    Thread.interrupted();
                }
            }
        }
        if (stalled) {
            throw new IOException(what + " stalled: no data for " + TimeUnit.NANOSECONDS.toSeconds(timeoutNanos) + " s");
        }
        if (failure != null) {
            throw failure;
        }
        return n;
    }

    @Override
    public void close() throws IOException {
        check.cancel(false);
        super.close();
    }
}
