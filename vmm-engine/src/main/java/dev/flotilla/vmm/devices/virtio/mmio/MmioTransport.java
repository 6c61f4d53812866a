package dev.flotilla.vmm.devices.virtio.mmio;

import dev.flotilla.vmm.bus.BusDevice;
import dev.flotilla.vmm.devices.virtio.DeviceStatus;
import dev.flotilla.vmm.logging.RateLimitedLog;
import dev.flotilla.vmm.devices.virtio.VirtioDevice;
import dev.flotilla.vmm.devices.virtio.VirtioFeatures;
import dev.flotilla.vmm.devices.virtio.VirtioInterrupt;
import dev.flotilla.vmm.devices.virtio.queue.InvalidQueueConfigException;
import dev.flotilla.vmm.devices.virtio.queue.QueueConfig;
import dev.flotilla.vmm.devices.virtio.queue.QueueMetrics;
import dev.flotilla.vmm.devices.virtio.queue.Virtqueue;
import dev.flotilla.vmm.interrupt.IrqLine;
import dev.flotilla.vmm.memory.GuestMemory;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Objects;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.function.IntConsumer;

import static dev.flotilla.vmm.devices.virtio.mmio.MmioRegisters.*;

/**
 * The virtio-mmio transport, version 2 (virtio 1.2 §4.2): the register page a vCPU reaches
 * through MMIO exits, turning register accesses into feature negotiation, queue setup and the
 * device status state machine (§2.1, §3.1), and device events into interrupts.
 *
 * <p>Two ways in for a queue notification: an MMIO write to QueueNotify (the slow path: a vCPU
 * exit per kick), or — once the event loop registers an ioeventfd on {@link #QUEUE_NOTIFY_OFFSET}
 * with the queue index as datamatch — the event loop calling {@link #processQueueNotification}.
 * Interrupts go out through an {@link IrqLine} (an irqfd in a VM): each signal sets its bit in
 * InterruptStatus and pulses the line, which suits the edge semantics of an irqfd.
 *
 * <p>Thread-safety: register accesses (vCPU threads) and queue processing (event loop) are
 * serialised on this object's monitor; uncontended, that costs no allocation.
 */
public final class MmioTransport implements BusDevice, VirtioInterrupt {

    /** Offset of QueueNotify, for registering an ioeventfd at {@code base + QUEUE_NOTIFY_OFFSET}. */
    public static final long QUEUE_NOTIFY_OFFSET = MmioRegisters.QUEUE_NOTIFY;
    /** We have no vendor ID of our own; Linux only matches on it for vendor quirks. */
    public static final int VENDOR = 0;

    private static final RateLimitedLog LOG = RateLimitedLog.forClass(MmioTransport.class);
    private static final int STEP_BITS = DeviceStatus.ACKNOWLEDGE | DeviceStatus.DRIVER | DeviceStatus.FEATURES_OK | DeviceStatus.DRIVER_OK;

    private final VirtioDevice device;
    private final GuestMemory memory;
    private final IrqLine irq;
    private final String name;
    private final QueueConfig[] queueConfigs;
    private final Virtqueue[] running;
    private final long offeredFeatures;

    private int status;
    private int deviceFeaturesSelect;
    private int driverFeaturesSelect;
    private long driverFeatures;
    private int queueSelect;
    private boolean activated;
    private final AtomicInteger interruptStatus = new AtomicInteger();
    private final AtomicInteger configGeneration = new AtomicInteger();
    private IntConsumer queueNotifyHandler = this::processQueueNotification;

    /**
     * @param name for logs and queue names, e.g. "rng0"
     */
    public MmioTransport(VirtioDevice device, GuestMemory memory, IrqLine irq, String name) {
        this(device, memory, irq, name, 0);
    }

    /**
     * @param withheldFeatures feature bits the device offers that this transport hides from the
     *                         driver (e.g. VIRTIO_F_RING_PACKED, to make a guest use split rings)
     */
    public MmioTransport(VirtioDevice device, GuestMemory memory, IrqLine irq, String name, long withheldFeatures) {
        this.device = Objects.requireNonNull(device);
        this.memory = Objects.requireNonNull(memory);
        this.irq = Objects.requireNonNull(irq);
        this.name = Objects.requireNonNull(name);
        int count = device.queueCount();
        queueConfigs = new QueueConfig[count];
        for (int i = 0; i < count; i++) {
            queueConfigs[i] = new QueueConfig(device.queueMaxSize(i));
        }
        running = new Virtqueue[count];
        long offered = device.offeredFeatures() & ~withheldFeatures;
        if (!VirtioFeatures.has(offered, VirtioFeatures.VERSION_1)) {
            throw new IllegalArgumentException("device %s must offer VIRTIO_F_VERSION_1: virtio-mmio version 2 is a modern transport".formatted(name));
        }
        offeredFeatures = offered;
    }

    /**
     * The kernel command line entry announcing a device at {@code base} with interrupt {@code irq}
     * (Linux virtio_mmio.device=&lt;size&gt;@&lt;base&gt;:&lt;irq&gt;, drivers/virtio/virtio_mmio.c).
     */
    public static String kernelCommandLineEntry(long base, long size, int irq) {
        String length = size % 1024 == 0 ? (size / 1024) + "K" : Long.toString(size);
        return "virtio_mmio.device=%s@0x%x:%d".formatted(length, base, irq);
    }

    /**
     * Replaces what an MMIO write to QueueNotify does (by default: process inline, on the vCPU
     * thread). The event loop can route the slow path to itself with this.
     */
    public synchronized void setQueueNotifyHandler(IntConsumer handler) {
        queueNotifyHandler = Objects.requireNonNull(handler);
    }

    // ---------------------------------------------------------------- BusDevice

    @Override
    public long read(long offset, int size) {
        if (offset == INTERRUPT_STATUS && size == 4) {
            // The guest's interrupt handler reads this on every interrupt: never behind the lock, which the
            // loop holds for whole device passes (file I/O included), so a vCPU never waits for device work.
            return interruptStatus.get();
        }
        synchronized (this) {
            return readLocked(offset, size);
        }
    }

    private long readLocked(long offset, int size) {
        if (offset >= CONFIG) {
            return readConfig(offset - CONFIG, size);
        }
        if (size != 4 || (offset & 3) != 0) {
            // §4.2.2.2: the driver MUST use 32-bit aligned accesses for control registers.
            badAccess("read", offset, size);
            return 0;
        }
        return switch ((int) offset) {
            case MAGIC_VALUE -> MAGIC;
            case VERSION_REG -> VERSION;
            case DEVICE_ID -> device.deviceType();
            case VENDOR_ID -> VENDOR;
            case DEVICE_FEATURES -> switch (deviceFeaturesSelect) {
                case 0 -> offeredFeatures & 0xffff_ffffL;
                case 1 -> offeredFeatures >>> 32;
                default -> 0;
            };
            // §4.2.2: QueueNumMax reads 0 for a queue the device does not have.
            case QUEUE_NUM_MAX -> selectedQueue() == null ? 0 : selectedQueue().maxSize();
            case QUEUE_READY -> selectedQueue() != null && selectedQueue().ready() ? 1 : 0;
            case STATUS -> status;
            // No shared memory regions: a length of -1 means "not present" (§4.2.2 SHMLen).
            case SHM_LEN_LOW, SHM_LEN_HIGH, SHM_BASE_LOW, SHM_BASE_HIGH -> 0xffff_ffffL;
            case CONFIG_GENERATION -> configGeneration.get();
            default -> {
                badAccess("read of a write-only or unknown register", offset, size);
                yield 0;
            }
        };
    }

    @Override
    public void write(long offset, int size, long value) {
        if (offset == INTERRUPT_ACK && size == 4) {
            acknowledgeInterrupt((int) value); // atomic, lock-free: see read()
            return;
        }
        boolean notify = false;
        int notifyQueue = 0;
        IntConsumer handler;
        synchronized (this) {
            if (offset >= CONFIG) {
                writeConfig(offset - CONFIG, size, value);
                return;
            }
            if (size != 4 || (offset & 3) != 0) {
                badAccess("write", offset, size);
                return;
            }
            int v = (int) value;
            switch ((int) offset) {
                case DEVICE_FEATURES_SEL -> deviceFeaturesSelect = v;
                case DRIVER_FEATURES -> writeDriverFeatures(v);
                case DRIVER_FEATURES_SEL -> driverFeaturesSelect = v;
                case QUEUE_SEL -> queueSelect = v;
                case QUEUE_NUM, QUEUE_READY, QUEUE_DESC_LOW, QUEUE_DESC_HIGH, QUEUE_DRIVER_LOW, QUEUE_DRIVER_HIGH,
                     QUEUE_DEVICE_LOW, QUEUE_DEVICE_HIGH -> writeQueueRegister((int) offset, v);
                case QUEUE_NOTIFY -> {
                    notify = true;
                    notifyQueue = v;
                }
                case STATUS -> writeStatus(v);
                case SHM_SEL -> { /* no regions to select */ }
                default -> badAccess("write to a read-only or unknown register", offset, size);
            }
            handler = queueNotifyHandler;
        }
        if (notify) {
            // Outside the monitor: the handler may hand the kick to another thread.
            handler.accept(notifyQueue);
        }
    }

    // ---------------------------------------------------------------- queue notifications

    /**
     * The driver kicked queue {@code index}: let the device process it. Called from the event
     * loop (ioeventfd) or from an MMIO write. Kicks before DRIVER_OK or for queues that are not
     * running are ignored (§3.1.1: the driver must not notify before DRIVER_OK).
     */
    public synchronized void processQueueNotification(int index) {
        if (!activated || index < 0 || index >= running.length || running[index] == null
                || (status & (DeviceStatus.DEVICE_NEEDS_RESET | DeviceStatus.FAILED)) != 0) {
            if (LOG.shouldLog()) {
                LOG.warn("virtio-mmio %s: ignoring notification of queue %d (status %s)".formatted(name, index, DeviceStatus.describe(status)));
            }
            return;
        }
        device.processQueue(index);
        checkQueueHealth();
    }

    /** Sets DEVICE_NEEDS_RESET once a queue stopped on a hostile ring (§2.1.2). */
    private void checkQueueHealth() {
        for (Virtqueue q : running) {
            if (q != null && q.needsReset()) {
                deviceNeedsReset("queue %s stopped: %s".formatted(q.name(), q.failure().description()));
                return;
            }
        }
    }

    /**
     * Runs {@code task} holding this transport's lock, as device callbacks are: for device work
     * that comes back from elsewhere (an I/O completion, a timer) and touches the queues.
     * Ignored unless the device is active, so a completion after a reset finds no stale queues.
     */
    public synchronized void runLocked(Runnable task) {
        if (activated) {
            task.run();
            checkQueueHealth();
        }
    }

    // ---------------------------------------------------------------- VirtioInterrupt

    @Override
    public void signalUsedBuffers() {
        setInterruptBits(INT_USED_BUFFER);
        irq.pulse();
    }

    @Override
    public void signalConfigChange() {
        configGeneration.incrementAndGet();
        setInterruptBits(INT_CONFIG_CHANGE);
        irq.pulse();
    }

    // CAS loops rather than getAndUpdate: a capturing lambda would allocate on every interrupt.
    private void setInterruptBits(int bits) {
        int s;
        do {
            s = interruptStatus.get();
        } while (!interruptStatus.compareAndSet(s, s | bits));
    }

    private void acknowledgeInterrupt(int bits) {
        int s;
        do {
            s = interruptStatus.get();
        } while (!interruptStatus.compareAndSet(s, s & ~bits));
    }

    // ---------------------------------------------------------------- status state machine

    /**
     * §2.1 / §3.1.1: 0 resets; otherwise the driver adds ACKNOWLEDGE, DRIVER, FEATURES_OK,
     * DRIVER_OK in that order, or FAILED at any time. Clearing bits is not allowed.
     */
    private void writeStatus(int value) {
        if (value == 0) {
            reset();
            return;
        }
        int driverBits = value & ~DeviceStatus.DEVICE_NEEDS_RESET; // device-owned bit
        int current = status & ~DeviceStatus.DEVICE_NEEDS_RESET;
        if ((driverBits & current) != current) {
            refuseStatus(value, "the driver may not clear status bits other than by writing 0");
            return;
        }
        int added = driverBits & ~current;
        if ((added & ~(STEP_BITS | DeviceStatus.FAILED)) != 0) {
            refuseStatus(value, "unknown status bits");
            return;
        }
        if ((added & DeviceStatus.FAILED) != 0) {
            // §2.1: the driver gave up on the device; nothing more will be processed.
            status |= DeviceStatus.FAILED;
            if (LOG.shouldLog()) {
                LOG.info("virtio-mmio %s: driver set FAILED".formatted(name));
            }
            return;
        }
        if ((status & DeviceStatus.FAILED) != 0) {
            refuseStatus(value, "the device is FAILED; reset it first");
            return;
        }
        if ((added & DeviceStatus.ACKNOWLEDGE) != 0) {
            status |= DeviceStatus.ACKNOWLEDGE;
        }
        if ((added & DeviceStatus.DRIVER) != 0) {
            if (!has(DeviceStatus.ACKNOWLEDGE)) {
                refuseStatus(value, "DRIVER before ACKNOWLEDGE");
                return;
            }
            status |= DeviceStatus.DRIVER;
        }
        if ((added & DeviceStatus.FEATURES_OK) != 0) {
            if (!has(DeviceStatus.DRIVER)) {
                refuseStatus(value, "FEATURES_OK before DRIVER");
                return;
            }
            String problem = featureProblem();
            if (problem != null) {
                // §2.2.2 / §3.1.1: leave FEATURES_OK clear; the driver re-reads status and sees the refusal.
                if (LOG.shouldLog()) {
                    LOG.warn("virtio-mmio %s: refusing FEATURES_OK: %s".formatted(name, problem));
                }
                return;
            }
            status |= DeviceStatus.FEATURES_OK;
        }
        if ((added & DeviceStatus.DRIVER_OK) != 0) {
            if (!has(DeviceStatus.FEATURES_OK)) {
                refuseStatus(value, "DRIVER_OK before FEATURES_OK");
                return;
            }
            status |= DeviceStatus.DRIVER_OK;
            activate();
        }
    }

    private String featureProblem() {
        if (!VirtioFeatures.has(driverFeatures, VirtioFeatures.VERSION_1)) {
            return "the driver did not accept VIRTIO_F_VERSION_1 (legacy drivers are not supported)";
        }
        long unoffered = driverFeatures & ~offeredFeatures;
        if (unoffered != 0) {
            return "the driver accepted features that were not offered: 0x%x".formatted(unoffered);
        }
        return null;
    }

    private void activate() {
        List<Virtqueue> queues = new ArrayList<>(running.length);
        for (int i = 0; i < queueConfigs.length; i++) {
            QueueConfig config = queueConfigs[i];
            if (!config.ready()) {
                queues.add(null);
                continue;
            }
            try {
                running[i] = config.activate(memory, driverFeatures, name + ".q" + i);
                queues.add(running[i]);
            } catch (InvalidQueueConfigException e) {
                Arrays.fill(running, null);
                deviceNeedsReset(e.getMessage());
                return;
            }
        }
        activated = true;
        device.activate(java.util.Collections.unmodifiableList(queues), driverFeatures, memory, this);
    }

    private void deviceNeedsReset(String reason) {
        if ((status & DeviceStatus.DEVICE_NEEDS_RESET) != 0) {
            return;
        }
        status |= DeviceStatus.DEVICE_NEEDS_RESET;
        if (LOG.shouldLog()) {
            LOG.warn("virtio-mmio %s: device needs reset: %s".formatted(name, reason));
        }
        // §2.1.2: with DRIVER_OK set, tell the driver through a configuration change notification.
        if (has(DeviceStatus.DRIVER_OK)) {
            signalConfigChange();
        }
    }

    /** §2.4: back to the initial state; the driver starts over with ACKNOWLEDGE. */
    private void reset() {
        if (activated) {
            device.reset();
        }
        activated = false;
        Arrays.fill(running, null);
        for (QueueConfig q : queueConfigs) {
            q.reset();
        }
        status = 0;
        deviceFeaturesSelect = 0;
        driverFeaturesSelect = 0;
        driverFeatures = 0;
        queueSelect = 0;
        interruptStatus.set(0);
        irq.setLevel(false);
    }

    // ---------------------------------------------------------------- features, queues, config

    private void writeDriverFeatures(int value) {
        // §3.1.1: features are written after DRIVER and before FEATURES_OK.
        if (!has(DeviceStatus.DRIVER) || has(DeviceStatus.FEATURES_OK)) {
            refuseWrite("DriverFeatures", "only allowed between DRIVER and FEATURES_OK");
            return;
        }
        long bits = Integer.toUnsignedLong(value);
        switch (driverFeaturesSelect) {
            case 0 -> driverFeatures = (driverFeatures & 0xffff_ffff_0000_0000L) | bits;
            case 1 -> driverFeatures = (driverFeatures & 0xffff_ffffL) | (bits << 32);
            default -> badValue("DriverFeaturesSel", driverFeaturesSelect);
        }
    }

    private QueueConfig selectedQueue() {
        return queueSelect >= 0 && queueSelect < queueConfigs.length ? queueConfigs[queueSelect] : null;
    }

    private void writeQueueRegister(int register, int v) {
        if (register == QUEUE_READY && v == 0 && has(DeviceStatus.DRIVER_OK)) {
            // Linux writes QueueReady=0 when tearing queues down (vm_del_vq) and checks that it
            // reads back 0. Without VIRTIO_F_RING_RESET that only means: stop serving the queue.
            QueueConfig q = selectedQueue();
            if (q != null) {
                q.setReady(false);
                running[queueSelect] = null;
            }
            return;
        }
        // §4.2.3.2: queues are configured after FEATURES_OK and before DRIVER_OK.
        if (!has(DeviceStatus.FEATURES_OK) || has(DeviceStatus.DRIVER_OK) || has(DeviceStatus.FAILED)) {
            refuseWrite("queue register", "only allowed between FEATURES_OK and DRIVER_OK");
            return;
        }
        QueueConfig q = selectedQueue();
        if (q == null) {
            badValue("QueueSel", queueSelect);
            return;
        }
        switch (register) {
            case QUEUE_NUM -> q.setSize(v);
            case QUEUE_READY -> q.setReady(v == 1);
            case QUEUE_DESC_LOW -> q.setDescAddress(low(q.descAddress(), v));
            case QUEUE_DESC_HIGH -> q.setDescAddress(high(q.descAddress(), v));
            case QUEUE_DRIVER_LOW -> q.setDriverAddress(low(q.driverAddress(), v));
            case QUEUE_DRIVER_HIGH -> q.setDriverAddress(high(q.driverAddress(), v));
            case QUEUE_DEVICE_LOW -> q.setDeviceAddress(low(q.deviceAddress(), v));
            case QUEUE_DEVICE_HIGH -> q.setDeviceAddress(high(q.deviceAddress(), v));
            default -> throw new IllegalStateException("not a queue register: " + register);
        }
    }

    private static long low(long current, int value) {
        return (current & 0xffff_ffff_0000_0000L) | Integer.toUnsignedLong(value);
    }

    private static long high(long current, int value) {
        return (current & 0xffff_ffffL) | (Integer.toUnsignedLong(value) << 32);
    }

    private long readConfig(long offset, int size) {
        if (!configRangeValid(offset, size)) {
            badAccess("config read", CONFIG + offset, size);
            return 0;
        }
        return device.readConfig((int) offset, size);
    }

    private void writeConfig(long offset, int size, long value) {
        if (!configRangeValid(offset, size)) {
            badAccess("config write", CONFIG + offset, size);
            return;
        }
        device.writeConfig((int) offset, size, value);
    }

    private boolean configRangeValid(long offset, int size) {
        return (size == 1 || size == 2 || size == 4 || size == 8) && offset >= 0 && offset + size <= device.configSize();
    }

    // ---------------------------------------------------------------- observation

    private boolean has(int bit) {
        return (status & bit) != 0;
    }

    public synchronized int status() {
        return status;
    }

    public int interruptStatus() {
        return interruptStatus.get();
    }

    public int configGeneration() {
        return configGeneration.get();
    }

    public synchronized long negotiatedFeatures() {
        return has(DeviceStatus.FEATURES_OK) ? driverFeatures : 0;
    }

    public synchronized boolean isActivated() {
        return activated;
    }

    public int queueCount() {
        return queueConfigs.length;
    }

    /** Counters of queue {@code index}, kept across resets. */
    public QueueMetrics queueMetrics(int index) {
        return queueConfigs[index].metrics();
    }

    public String name() {
        return name;
    }

    // ---------------------------------------------------------------- guest mistakes

    private void badAccess(String what, long offset, int size) {
        if (LOG.shouldLog()) {
            LOG.warn("virtio-mmio %s: ignoring %d-byte %s at offset 0x%x".formatted(name, size, what, offset));
        }
    }

    private void badValue(String register, long value) {
        if (LOG.shouldLog()) {
            LOG.warn("virtio-mmio %s: ignoring out-of-range %s value %d".formatted(name, register, value));
        }
    }

    private void refuseWrite(String register, String rule) {
        if (LOG.shouldLog()) {
            LOG.warn("virtio-mmio %s: ignoring write to %s in status %s: %s".formatted(name, register, DeviceStatus.describe(status), rule));
        }
    }

    private void refuseStatus(int value, String rule) {
        if (LOG.shouldLog()) {
            LOG.warn("virtio-mmio %s: refusing status 0x%x (%s) in status %s: %s".formatted(
                    name, value, DeviceStatus.describe(value), DeviceStatus.describe(status), rule));
        }
    }
}
