package dev.flotilla.containers;

import dev.flotilla.vmm.VmConfig;
import dev.flotilla.vmm.devices.virtio.blk.BlockDeviceConfig;
import dev.flotilla.vmm.devices.virtio.vsock.VsockDeviceConfig;

import java.nio.file.Path;

/**
 * What a VM needs to run containers: its root image as a read-only disk, a vsock device for the agent, and the
 * command-line word that makes flotilla-init run and supervise the guest agent.
 */
public final class GuestWiring {
    /** Makes flotilla-init start the guest agent (and restart it when it dies) instead of a shell. */
    public static final String AGENT_CMDLINE = "flotilla.exit=agent";
    /** The guest's context id; one per VM, and every VM has its own vsock device, so one value serves all. */
    public static final long GUEST_CID = 3;
    /** The root image is the first (and only) virtio-blk disk the runtime adds: the guest names it vda. */
    public static final String ROOT_DEVICE = "/dev/vda";
    public static final String ROOT_FS_TYPE = "erofs";

    private GuestWiring() {}

    /** Adds the read-only root disk and the vsock device; the caller adds {@link #AGENT_CMDLINE} to its command line. */
    public static VmConfig.Builder attach(VmConfig.Builder vm, Path rootfs) {
        return vm.device(BlockDeviceConfig.of(rootfs, true)).device(VsockDeviceConfig.of(GUEST_CID));
    }

    /** {@code cmdline} with {@link #AGENT_CMDLINE} appended. */
    public static String cmdline(String cmdline) {
        return (cmdline.strip() + " " + AGENT_CMDLINE).strip();
    }
}
