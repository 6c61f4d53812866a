package dev.flotilla.vmm.devices.virtio;

import java.util.List;

/**
 * How a virtio device is asked for in a VM configuration. The VM builder treats every device the
 * same way: validate up front ({@link #problems()}), then at the devices step {@link #create} the
 * device, put a virtio-mmio transport in front of it and wire its notifications and interrupt.
 */
public interface VirtioDeviceConfig {

    /** Short name used for device names and logs ("blk", "rng", ...). */
    String kind();

    /** Offer VIRTIO_F_RING_PACKED (false: the driver must use split rings). */
    boolean packedRing();

    /** Offer VIRTIO_F_EVENT_IDX (false: plain flags-based notification suppression). */
    boolean eventIdx();

    /** Everything wrong with this config, as sentences; empty when it can be built. */
    List<String> problems();

    /** Builds the device; {@code name} is unique within the VM (e.g. "blk0"). */
    VirtioDevice create(DeviceEnvironment environment, String name) throws Exception;

    /** The transport bits to hide from the driver, from {@link #packedRing()} and {@link #eventIdx()}. */
    default long withheldFeatures() {
        return (packedRing() ? 0 : VirtioFeatures.bit(VirtioFeatures.RING_PACKED))
                | (eventIdx() ? 0 : VirtioFeatures.bit(VirtioFeatures.EVENT_IDX));
    }
}
