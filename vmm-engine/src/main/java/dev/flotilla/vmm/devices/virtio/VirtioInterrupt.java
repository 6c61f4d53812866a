package dev.flotilla.vmm.devices.virtio;

/**
 * How a device tells its driver something happened. Implemented by the transport, which sets the
 * matching interrupt status bit (§4.2.2 InterruptStatus) and signals the guest's interrupt line
 * (an irqfd in a VM). Devices call it from their event-loop pass, after a batch, not per buffer.
 */
public interface VirtioInterrupt {

    /** "Used Buffer Notification" (§2.3): one or more queues have new used buffers. */
    void signalUsedBuffers();

    /** "Configuration Change Notification" (§2.3): config space changed; bumps the config generation. */
    void signalConfigChange();
}
