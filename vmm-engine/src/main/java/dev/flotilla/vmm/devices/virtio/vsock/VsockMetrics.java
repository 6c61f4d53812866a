package dev.flotilla.vmm.devices.virtio.vsock;

import java.util.concurrent.atomic.AtomicLongArray;

/**
 * Counters of one vsock device. Written by the device's event-loop pass, read from anywhere.
 * Plain atomics: a metric update costs no allocation.
 */
public final class VsockMetrics {

    private final AtomicLongArray rejections = new AtomicLongArray(VsockRejection.values().length);
    private final AtomicLongArray counters = new AtomicLongArray(Counter.values().length);

    public enum Counter {
        PACKETS_FROM_GUEST, PACKETS_TO_GUEST, BYTES_FROM_GUEST, BYTES_TO_GUEST,
        CONNECTIONS_OPENED_BY_GUEST, CONNECTIONS_OPENED_BY_HOST, CONNECTIONS_CLOSED,
        RESETS_SENT, RESETS_RECEIVED, CONNECT_TIMEOUTS, RESETS_DROPPED
    }

    void rejected(VsockRejection reason) {
        rejections.incrementAndGet(reason.ordinal());
    }

    void add(Counter counter, long delta) {
        counters.addAndGet(counter.ordinal(), delta);
    }

    void increment(Counter counter) {
        counters.incrementAndGet(counter.ordinal());
    }

    public long rejections(VsockRejection reason) {
        return rejections.get(reason.ordinal());
    }

    public long totalRejections() {
        long sum = 0;
        for (int i = 0; i < rejections.length(); i++) {
            sum += rejections.get(i);
        }
        return sum;
    }

    public long get(Counter counter) {
        return counters.get(counter.ordinal());
    }
}
