package dev.flotilla.vmm.devices.virtio.blk;

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
 * A virtio-blk drive backed by a raw image file.
 *
 * @param path       the image (a regular file; its size, in whole sectors, is the disk's capacity)
 * @param readOnly   writes fail with IOERR and VIRTIO_BLK_F_RO is offered
 * @param serial     what GET_ID returns, at most 20 ASCII bytes (empty: none)
 * @param bandwidth  optional bytes-per-interval limit
 * @param ops        optional requests-per-interval limit
 */
public record BlockDeviceConfig(Path path, boolean readOnly, String serial, Optional<RateLimiter.Limit> bandwidth,
                                Optional<RateLimiter.Limit> ops, boolean packedRing, boolean eventIdx)
        implements VirtioDeviceConfig {

    public BlockDeviceConfig {
        serial = serial == null ? "" : serial;
        bandwidth = bandwidth == null ? Optional.empty() : bandwidth;
        ops = ops == null ? Optional.empty() : ops;
    }

    /** A read-write or read-only drive without serial or rate limits, offering both ring layouts. */
    public static BlockDeviceConfig of(Path path, boolean readOnly) {
        return new BlockDeviceConfig(path, readOnly, "", Optional.empty(), Optional.empty(), true, true);
    }

    public BlockDeviceConfig withSerial(String s) {
        return new BlockDeviceConfig(path, readOnly, s, bandwidth, ops, packedRing, eventIdx);
    }

    public BlockDeviceConfig withRings(boolean packed, boolean eventIndex) {
        return new BlockDeviceConfig(path, readOnly, serial, bandwidth, ops, packed, eventIndex);
    }

    public BlockDeviceConfig withRateLimits(Optional<RateLimiter.Limit> bytes, Optional<RateLimiter.Limit> requests) {
        return new BlockDeviceConfig(path, readOnly, serial, bytes, requests, packedRing, eventIdx);
    }

    @Override
    public String kind() {
        return "blk";
    }

    @Override
    public List<String> problems() {
        List<String> problems = new ArrayList<>();
        if (path == null) {
            problems.add("a drive needs an image file");
        } else if (!Files.isRegularFile(path) || !Files.isReadable(path)) {
            problems.add("drive " + path + " is not a readable regular file");
        } else if (!readOnly && !Files.isWritable(path)) {
            problems.add("drive " + path + " is not writable (add ro to attach it read-only)");
        }
        if (!StandardCharsets.US_ASCII.newEncoder().canEncode(serial)
                || serial.getBytes(StandardCharsets.US_ASCII).length > BlockLimits.ID_BYTES) {
            problems.add("drive serial '%s' must be at most %d ASCII characters".formatted(serial, BlockLimits.ID_BYTES));
        }
        return problems;
    }

    @Override
    public VirtioDevice create(DeviceEnvironment environment, String name) throws Exception {
        RawFileBackend backend = new RawFileBackend(path, readOnly);
        try {
            return new VirtioBlock(backend, serial, new RateLimiter(bandwidth, ops, environment.nanoTime()), environment, name);
        } catch (RuntimeException e) {
            backend.close();
            throw e;
        }
    }
}
