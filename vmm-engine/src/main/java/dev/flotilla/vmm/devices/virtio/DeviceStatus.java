package dev.flotilla.vmm.devices.virtio;

/** Device status bits written by the driver (virtio 1.2 §2.1). */
public final class DeviceStatus {
    private DeviceStatus() {}

    public static final int ACKNOWLEDGE = 1;
    public static final int DRIVER = 2;
    public static final int DRIVER_OK = 4;
    public static final int FEATURES_OK = 8;
    /** Set by the device when it hit an error it cannot recover from without a reset (§2.1.2). */
    public static final int DEVICE_NEEDS_RESET = 64;
    public static final int FAILED = 128;

    /** Human-readable form for logs, e.g. "ACKNOWLEDGE|DRIVER". */
    public static String describe(int status) {
        if (status == 0) {
            return "RESET";
        }
        StringBuilder sb = new StringBuilder();
        append(sb, status, ACKNOWLEDGE, "ACKNOWLEDGE");
        append(sb, status, DRIVER, "DRIVER");
        append(sb, status, FEATURES_OK, "FEATURES_OK");
        append(sb, status, DRIVER_OK, "DRIVER_OK");
        append(sb, status, DEVICE_NEEDS_RESET, "DEVICE_NEEDS_RESET");
        append(sb, status, FAILED, "FAILED");
        int unknown = status & ~(ACKNOWLEDGE | DRIVER | FEATURES_OK | DRIVER_OK | DEVICE_NEEDS_RESET | FAILED);
        if (unknown != 0) {
            append(sb, unknown, unknown, "0x" + Integer.toHexString(unknown));
        }
        return sb.toString();
    }

    private static void append(StringBuilder sb, int status, int bit, String name) {
        if ((status & bit) != 0) {
            if (!sb.isEmpty()) {
                sb.append('|');
            }
            sb.append(name);
        }
    }
}
