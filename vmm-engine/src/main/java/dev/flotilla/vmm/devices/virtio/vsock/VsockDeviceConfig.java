package dev.flotilla.vmm.devices.virtio.vsock;

import dev.flotilla.vmm.devices.virtio.DeviceEnvironment;
import dev.flotilla.vmm.devices.virtio.VirtioDevice;
import dev.flotilla.vmm.devices.virtio.VirtioDeviceConfig;

import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;

/**
 * A virtio-vsock device whose host end is the VM's {@code MicroVm.vsock()} API, optionally also
 * reachable through a Firecracker-style Unix socket ({@link VsockUnixBridge}), which lives as
 * long as the VM: bound when the VM is built, removed when it is closed.
 *
 * @param guestCid   the guest's context id, {@link VirtioVsock#MIN_GUEST_CID} to 2^32 - 2
 * @param unixBridge where the bridge listens; must not exist yet (guest → host connections to
 *                   port P go to {@code <path>_P})
 */
public record VsockDeviceConfig(long guestCid, Optional<Path> unixBridge, boolean packedRing, boolean eventIdx)
        implements VirtioDeviceConfig {

    /** sun_path is 108 bytes with the terminating NUL; the bridge's forwarding targets add "_4294967294". */
    static final int MAX_BRIDGE_PATH_BYTES = 107 - "_4294967294".length();

    public VsockDeviceConfig {
        unixBridge = unixBridge == null ? Optional.empty() : unixBridge;
    }

    /** A device for {@code guestCid} without a Unix bridge, offering both ring layouts. */
    public static VsockDeviceConfig of(long guestCid) {
        return new VsockDeviceConfig(guestCid, Optional.empty(), true, true);
    }

    public VsockDeviceConfig withUnixBridge(Path path) {
        return new VsockDeviceConfig(guestCid, Optional.of(path), packedRing, eventIdx);
    }

    public VsockDeviceConfig withRings(boolean packed, boolean eventIndex) {
        return new VsockDeviceConfig(guestCid, unixBridge, packed, eventIndex);
    }

    @Override
    public String kind() {
        return "vsock";
    }

    @Override
    public List<String> problems() {
        List<String> problems = new ArrayList<>();
        if (guestCid < VirtioVsock.MIN_GUEST_CID || guestCid >= 0xffff_ffffL) {
            problems.add("guest CID %d is reserved or out of range: use %d to 4294967294"
                    .formatted(guestCid, VirtioVsock.MIN_GUEST_CID));
        }
        unixBridge.ifPresent(path -> {
            Path parent = path.toAbsolutePath().getParent();
            if (path.toString().getBytes(StandardCharsets.UTF_8).length > MAX_BRIDGE_PATH_BYTES) {
                problems.add("vsock bridge path %s is longer than %d bytes (a Unix socket path limit)"
                        .formatted(path, MAX_BRIDGE_PATH_BYTES));
            } else if (parent == null || !Files.isDirectory(parent)) {
                problems.add("vsock bridge path %s: directory %s does not exist".formatted(path, parent));
            } else if (Files.exists(path)) {
                problems.add("vsock bridge path %s already exists (a stale socket of another VM?)".formatted(path));
            }
        });
        return problems;
    }

    @Override
    public VirtioDevice create(DeviceEnvironment environment, String name) throws Exception {
        VirtioVsock device = new VirtioVsock(guestCid);
        device.setWakeup(environment.queueKick(VirtioVsock.RX_QUEUE));
        if (unixBridge.isPresent()) {
            environment.closeWithDevice(VsockUnixBridge.start(device, unixBridge.get()));
        }
        return device;
    }
}
