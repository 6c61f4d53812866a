package dev.flotilla.vmm.devices.virtio.testing;

import dev.flotilla.vmm.bus.BusDevice;
import dev.flotilla.vmm.devices.virtio.DeviceStatus;

/**
 * The guest's virtio-mmio driver steps (virtio 1.2 §3.1.1 and §4.2.3), as register accesses on a
 * transport, so tests drive the transport exactly as a vCPU would.
 */
public final class MmioDriver {

    public static final int MAGIC_VALUE = 0x000;
    public static final int VERSION = 0x004;
    public static final int DEVICE_ID = 0x008;
    public static final int VENDOR_ID = 0x00c;
    public static final int DEVICE_FEATURES = 0x010;
    public static final int DEVICE_FEATURES_SEL = 0x014;
    public static final int DRIVER_FEATURES = 0x020;
    public static final int DRIVER_FEATURES_SEL = 0x024;
    public static final int QUEUE_SEL = 0x030;
    public static final int QUEUE_NUM_MAX = 0x034;
    public static final int QUEUE_NUM = 0x038;
    public static final int QUEUE_READY = 0x044;
    public static final int QUEUE_NOTIFY = 0x050;
    public static final int INTERRUPT_STATUS = 0x060;
    public static final int INTERRUPT_ACK = 0x064;
    public static final int STATUS = 0x070;
    public static final int QUEUE_DESC_LOW = 0x080;
    public static final int QUEUE_DESC_HIGH = 0x084;
    public static final int QUEUE_DRIVER_LOW = 0x090;
    public static final int QUEUE_DRIVER_HIGH = 0x094;
    public static final int QUEUE_DEVICE_LOW = 0x0a0;
    public static final int QUEUE_DEVICE_HIGH = 0x0a4;
    public static final int SHM_SEL = 0x0ac;
    public static final int SHM_LEN_LOW = 0x0b0;
    public static final int SHM_LEN_HIGH = 0x0b4;
    public static final int CONFIG_GENERATION = 0x0fc;
    public static final int CONFIG = 0x100;

    private final BusDevice device;

    public MmioDriver(BusDevice device) {
        this.device = device;
    }

    public int read(int register) {
        return (int) device.read(register, 4);
    }

    public void write(int register, int value) {
        device.write(register, 4, Integer.toUnsignedLong(value));
    }

    public long deviceFeatures() {
        write(DEVICE_FEATURES_SEL, 0);
        long low = Integer.toUnsignedLong(read(DEVICE_FEATURES));
        write(DEVICE_FEATURES_SEL, 1);
        long high = Integer.toUnsignedLong(read(DEVICE_FEATURES));
        return low | (high << 32);
    }

    public void writeDriverFeatures(long features) {
        write(DRIVER_FEATURES_SEL, 0);
        write(DRIVER_FEATURES, (int) features);
        write(DRIVER_FEATURES_SEL, 1);
        write(DRIVER_FEATURES, (int) (features >>> 32));
    }

    public int status() {
        return read(STATUS);
    }

    public void addStatus(int bits) {
        write(STATUS, status() | bits);
    }

    /** §3.1.1 steps 1-6: reset, ACKNOWLEDGE, DRIVER, features, FEATURES_OK; true when the device kept FEATURES_OK. */
    public boolean negotiate(long features) {
        write(STATUS, 0);
        addStatus(DeviceStatus.ACKNOWLEDGE);
        addStatus(DeviceStatus.DRIVER);
        writeDriverFeatures(features);
        addStatus(DeviceStatus.FEATURES_OK);
        return (status() & DeviceStatus.FEATURES_OK) != 0;
    }

    /** §4.2.3.2: program one queue from a driver-side ring. */
    public void setupQueue(int index, GuestDriver ring) {
        write(QUEUE_SEL, index);
        write(QUEUE_NUM, ring.size());
        write(QUEUE_DESC_LOW, (int) ring.descAddress());
        write(QUEUE_DESC_HIGH, (int) (ring.descAddress() >>> 32));
        write(QUEUE_DRIVER_LOW, (int) ring.driverAddress());
        write(QUEUE_DRIVER_HIGH, (int) (ring.driverAddress() >>> 32));
        write(QUEUE_DEVICE_LOW, (int) ring.deviceAddress());
        write(QUEUE_DEVICE_HIGH, (int) (ring.deviceAddress() >>> 32));
        write(QUEUE_READY, 1);
    }

    public void driverOk() {
        addStatus(DeviceStatus.DRIVER_OK);
    }

    public void notifyQueue(int index) {
        write(QUEUE_NOTIFY, index);
    }

    /** Reads and acknowledges the interrupt status, as the interrupt handler does. */
    public int takeInterrupt() {
        int status = read(INTERRUPT_STATUS);
        write(INTERRUPT_ACK, status);
        return status;
    }
}
