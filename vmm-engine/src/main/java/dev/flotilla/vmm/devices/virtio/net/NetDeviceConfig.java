package dev.flotilla.vmm.devices.virtio.net;

import dev.flotilla.vmm.devices.virtio.DeviceEnvironment;
import dev.flotilla.vmm.devices.virtio.VirtioDevice;
import dev.flotilla.vmm.devices.virtio.VirtioDeviceConfig;
import dev.flotilla.vmm.devices.virtio.blk.RateLimiter;
import dev.flotilla.vmm.sys.Tun;

import java.security.SecureRandom;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;

/**
 * A virtio-net NIC on a host tap interface.
 *
 * <p>The tap: if {@code tap} does not exist, the VMM creates it when the VM is built (TUNSETIFF,
 * needs CAP_NET_ADMIN) and it disappears when the VM closes; an existing tap (e.g. from
 * {@code ip tuntap add NAME mode tap} or a CNI plugin) is attached and left in place. Either way
 * the caller configures the host side: {@code ip link set NAME up}, addresses, bridge or tc
 * redirect. The VMM moves frames, nothing else.
 *
 * @param tap       host interface name (1-15 characters)
 * @param mac       the guest's MAC address (VIRTIO_NET_F_MAC)
 * @param rxBytes   optional limit on bytes delivered to the guest
 * @param rxFrames  optional limit on frames delivered to the guest
 * @param txBytes   optional limit on bytes the guest sends
 * @param txFrames  optional limit on frames the guest sends
 */
public record NetDeviceConfig(String tap, MacAddress mac, Optional<RateLimiter.Limit> rxBytes,
                              Optional<RateLimiter.Limit> rxFrames, Optional<RateLimiter.Limit> txBytes,
                              Optional<RateLimiter.Limit> txFrames, boolean packedRing, boolean eventIdx)
        implements VirtioDeviceConfig {

    public NetDeviceConfig {
        rxBytes = rxBytes == null ? Optional.empty() : rxBytes;
        rxFrames = rxFrames == null ? Optional.empty() : rxFrames;
        txBytes = txBytes == null ? Optional.empty() : txBytes;
        txFrames = txFrames == null ? Optional.empty() : txFrames;
    }

    /** A NIC on {@code tap} with a random locally administered MAC, no limits, both ring layouts. */
    public static NetDeviceConfig of(String tap) {
        return new NetDeviceConfig(tap, MacAddress.random(new SecureRandom()), Optional.empty(), Optional.empty(),
                Optional.empty(), Optional.empty(), true, true);
    }

    public NetDeviceConfig withMac(MacAddress m) {
        return new NetDeviceConfig(tap, m, rxBytes, rxFrames, txBytes, txFrames, packedRing, eventIdx);
    }

    public NetDeviceConfig withRings(boolean packed, boolean eventIndex) {
        return new NetDeviceConfig(tap, mac, rxBytes, rxFrames, txBytes, txFrames, packed, eventIndex);
    }

    public NetDeviceConfig withRateLimits(Optional<RateLimiter.Limit> rxB, Optional<RateLimiter.Limit> rxF,
                                          Optional<RateLimiter.Limit> txB, Optional<RateLimiter.Limit> txF) {
        return new NetDeviceConfig(tap, mac, rxB, rxF, txB, txF, packedRing, eventIdx);
    }

    @Override
    public String kind() {
        return "net";
    }

    @Override
    public List<String> problems() {
        List<String> problems = new ArrayList<>();
        if (!Tun.validInterfaceName(tap)) {
            problems.add("tap name '%s' is not a valid interface name (1-15 characters, no '/', ':' or blanks)".formatted(tap));
        }
        if (mac == null) {
            problems.add("a NIC needs a MAC address");
        } else if (mac.isMulticast()) {
            problems.add("MAC address " + mac + " is multicast; a NIC needs a unicast one");
        }
        return problems;
    }

    @Override
    public VirtioDevice create(DeviceEnvironment environment, String name) {
        TapBackend backend = new TapBackend(tap);
        try {
            long now = environment.nanoTime();
            return new VirtioNet(backend, mac, new RateLimiter(rxBytes, rxFrames, now), new RateLimiter(txBytes, txFrames, now),
                    environment, name);
        } catch (RuntimeException e) {
            backend.close();
            throw e;
        }
    }
}
