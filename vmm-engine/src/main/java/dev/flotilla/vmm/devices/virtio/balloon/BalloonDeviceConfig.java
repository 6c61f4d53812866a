package dev.flotilla.vmm.devices.virtio.balloon;

import dev.flotilla.vmm.devices.virtio.DeviceEnvironment;
import dev.flotilla.vmm.devices.virtio.VirtioDevice;
import dev.flotilla.vmm.devices.virtio.VirtioDeviceConfig;

import java.time.Duration;
import java.util.ArrayList;
import java.util.List;

/**
 * A virtio-balloon device. The balloon starts empty; the host sets its size at run time through
 * {@link VirtioBalloon#setTargetMiB} (e.g. {@code MicroVm.virtioDevice("balloon0", VirtioBalloon.class)}).
 *
 * @param statsInterval      how often the guest is asked for memory statistics; zero disables the stats queue
 * @param deflateOnOom       let the guest shrink the balloon instead of OOM-killing (VIRTIO_BALLOON_F_DEFLATE_ON_OOM)
 * @param freePageReporting  let the guest hand back free memory on its own (VIRTIO_BALLOON_F_REPORTING)
 */
public record BalloonDeviceConfig(Duration statsInterval, boolean deflateOnOom, boolean freePageReporting,
                                  boolean packedRing, boolean eventIdx) implements VirtioDeviceConfig {

    /** Stats every second, deflate on OOM, free page reporting; both ring layouts. */
    public static BalloonDeviceConfig defaults() {
        return new BalloonDeviceConfig(Duration.ofSeconds(1), true, true, true, true);
    }

    public BalloonDeviceConfig withRings(boolean packed, boolean eventIndex) {
        return new BalloonDeviceConfig(statsInterval, deflateOnOom, freePageReporting, packed, eventIndex);
    }

    @Override
    public String kind() {
        return "balloon";
    }

    @Override
    public List<String> problems() {
        List<String> problems = new ArrayList<>();
        if (statsInterval == null || statsInterval.isNegative()) {
            problems.add("the balloon statistics interval must be zero (off) or positive");
        } else if (!statsInterval.isZero() && statsInterval.toMillis() < 100) {
            problems.add("a balloon statistics interval below 100 ms interrupts the guest too often: " + statsInterval);
        }
        return problems;
    }

    @Override
    public VirtioDevice create(DeviceEnvironment environment, String name) {
        return new VirtioBalloon(environment, name, statsInterval.toNanos(), deflateOnOom, freePageReporting);
    }
}
