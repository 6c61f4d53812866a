package dev.flotilla.vmm.bench;

import java.io.OutputStream;
import java.nio.charset.StandardCharsets;

/**
 * A console sink that notes when a marker string first goes through it (System.nanoTime), and
 * keeps the last few KiB of output for error messages. Called byte by byte from the vCPU thread
 * (the UART's transmit path) or from a process reader: a plain matcher, no allocation per byte.
 */
final class MarkerWatch extends OutputStream {

    private final byte[] marker;
    private final byte[] tail = new byte[4096];
    private long written;
    private int matched;
    private volatile long seenAt = -1;

    MarkerWatch(String marker) {
        this.marker = marker.getBytes(StandardCharsets.US_ASCII);
    }

    @Override
    public synchronized void write(int b) {
        tail[(int) (written++ % tail.length)] = (byte) b;
        if (seenAt >= 0) {
            return;
        }
        if ((byte) b == marker[matched]) {
            if (++matched == marker.length) {
                seenAt = System.nanoTime();
            }
        } else {
            // The marker has no repeated prefix, so a mismatch restarts at its first byte.
            matched = (byte) b == marker[0] ? 1 : 0;
        }
    }

    /** System.nanoTime() when the marker was complete, or -1. */
    long seenAt() {
        return seenAt;
    }

    /** The last output, for error messages. */
    synchronized String tail() {
        int n = (int) Math.min(written, tail.length);
        byte[] out = new byte[n];
        for (int i = 0; i < n; i++) {
            out[i] = tail[(int) ((written - n + i) % tail.length)];
        }
        return new String(out, StandardCharsets.UTF_8);
    }
}
