package dev.flotilla.vmm.devices.virtio.rng;

import dev.flotilla.vmm.devices.virtio.DeviceEnvironment;
import dev.flotilla.vmm.devices.virtio.VirtioDevice;
import dev.flotilla.vmm.devices.virtio.VirtioDeviceConfig;

import java.util.List;

/** A virtio-rng device fed from the host's SecureRandom. */
public record RngDeviceConfig(boolean packedRing, boolean eventIdx) implements VirtioDeviceConfig {

    public RngDeviceConfig() {
        this(true, true);
    }

    @Override
    public String kind() {
        return "rng";
    }

    @Override
    public List<String> problems() {
        return List.of();
    }

    @Override
    public VirtioDevice create(DeviceEnvironment environment, String name) {
        return new VirtioRng();
    }
}
