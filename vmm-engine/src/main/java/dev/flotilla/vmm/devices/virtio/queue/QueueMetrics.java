package dev.flotilla.vmm.devices.virtio.queue;

import java.util.concurrent.atomic.AtomicLongArray;

/**
 * Counters of one virtqueue. Written by the thread processing the queue, readable from any
 * thread (a metrics endpoint). Updating a counter allocates nothing.
 */
public final class QueueMetrics {

    private final AtomicLongArray rejections = new AtomicLongArray(QueueRejection.values().length);
    private volatile long chainsPopped;
    private volatile long usedPushed;
    private volatile long notificationsSent;
    private volatile long notificationsSuppressed;

    void rejected(QueueRejection reason) {
        rejections.incrementAndGet(reason.ordinal());
    }

    // Single writer (the queue's thread): a plain read-modify-write of a volatile is enough.
    void popped() {
        chainsPopped = chainsPopped + 1;
    }

    void pushed() {
        usedPushed = usedPushed + 1;
    }

    void notification(boolean sent) {
        if (sent) {
            notificationsSent = notificationsSent + 1;
        } else {
            notificationsSuppressed = notificationsSuppressed + 1;
        }
    }

    public long rejections(QueueRejection reason) {
        return rejections.get(reason.ordinal());
    }

    public long totalRejections() {
        long total = 0;
        for (int i = 0; i < rejections.length(); i++) {
            total += rejections.get(i);
        }
        return total;
    }

    /** Well-formed chains handed to the device. */
    public long chainsPopped() {
        return chainsPopped;
    }

    /** Used entries written, including malformed chains returned with length 0. */
    public long usedPushed() {
        return usedPushed;
    }

    /** Batches that ended with a used-buffer notification to the driver. */
    public long notificationsSent() {
        return notificationsSent;
    }

    /** Batches whose notification the driver suppressed (flags or event index). */
    public long notificationsSuppressed() {
        return notificationsSuppressed;
    }
}
