package dev.flotilla.vmm.devices.virtio.queue;

/** The driver's queue configuration cannot be activated; {@link #reason()} names why. */
public final class InvalidQueueConfigException extends Exception {

    private final QueueRejection reason;

    public InvalidQueueConfigException(QueueRejection reason, String message) {
        super(message);
        this.reason = reason;
    }

    public QueueRejection reason() {
        return reason;
    }
}
