package dev.flotilla.vmm.devices.virtio.vsock;

import dev.flotilla.vmm.devices.virtio.testing.ManualEnvironment;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Files;
import java.nio.file.Path;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertTrue;

class VsockDeviceConfigTest {

    @TempDir
    Path dir;

    @Test
    void problems_validCidWithoutBridge_none() {
        assertEquals(java.util.List.of(), VsockDeviceConfig.of(3).problems());
    }

    @Test
    void problems_hostCid_isReserved() {
        assertTrue(VsockDeviceConfig.of(2).problems().getFirst().contains("guest CID 2 is reserved"));
    }

    @Test
    void problems_cidAny_isOutOfRange() {
        assertTrue(VsockDeviceConfig.of(0xffff_ffffL).problems().getFirst().contains("out of range"));
    }

    @Test
    void problems_existingBridgePath_isRefused() throws Exception {
        Path existing = Files.createFile(dir.resolve("v.sock"));
        assertTrue(VsockDeviceConfig.of(3).withUnixBridge(existing).problems().getFirst().contains("already exists"));
    }

    @Test
    void problems_bridgeInMissingDirectory_isRefused() {
        assertTrue(VsockDeviceConfig.of(3).withUnixBridge(dir.resolve("no/v.sock")).problems().getFirst()
                .contains("does not exist"));
    }

    @Test
    void problems_bridgePathTooLongForSunPath_isRefused() {
        Path longPath = dir.resolve("x".repeat(100));
        assertTrue(VsockDeviceConfig.of(3).withUnixBridge(longPath).problems().getFirst().contains("longer than"));
    }

    @Test
    void withRings_withoutPacked_withholdsRingPacked() {
        VsockDeviceConfig split = VsockDeviceConfig.of(3).withRings(false, true);
        assertTrue((split.withheldFeatures() & (1L << 34)) != 0);
        assertEquals(0, VsockDeviceConfig.of(3).withheldFeatures());
    }

    @Test
    void create_withBridge_bindsTheSocketAndHandsTheBridgeToTheEnvironment() throws Exception {
        Path socket = dir.resolve("v.sock");
        ManualEnvironment environment = new ManualEnvironment();
        VirtioVsock device = assertInstanceOf(VirtioVsock.class,
                VsockDeviceConfig.of(5).withUnixBridge(socket).create(environment, "vsock0"));
        assertEquals(5, device.guestCid());
        assertTrue(Files.exists(socket));
        assertEquals(1, environment.closeWithDevice().size());
        environment.closeWithDevice().getFirst().close();
        assertFalse(Files.exists(socket), "closing the bridge removes its socket");
    }
}
