package dev.flotilla.vmm;

import dev.flotilla.vmm.arch.x86_64.Layout;
import dev.flotilla.vmm.bus.Bus;
import dev.flotilla.vmm.devices.virtio.DeviceEnvironment;
import dev.flotilla.vmm.devices.virtio.VirtioDevice;
import dev.flotilla.vmm.devices.virtio.VirtioDeviceConfig;
import dev.flotilla.vmm.devices.virtio.mmio.MmioTransport;
import dev.flotilla.vmm.event.EventFd;
import dev.flotilla.vmm.event.EventLoop;
import dev.flotilla.vmm.event.IrqfdLine;
import dev.flotilla.vmm.interrupt.IrqLine;
import dev.flotilla.vmm.kvm.KvmVm;
import dev.flotilla.vmm.memory.GuestMemory;

import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.Executor;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.ThreadPoolExecutor;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;

/**
 * A VM's virtio devices and what runs them: the event loop, the blocking-I/O executor, and per
 * device a virtio-mmio transport on the MMIO bus, an irqfd for its interrupt and an ioeventfd per
 * queue (datamatch = queue index at QueueNotify). Generic over {@link VirtioDeviceConfig}: every
 * device kind is attached the same way.
 *
 * <p>Closing order matters: the executor first (no I/O into guest memory after), then the loop
 * (no pass reads an fd after it is closed), then each device's KVM registrations and eventfds.
 */
final class VirtioDevices implements AutoCloseable {

    private static final System.Logger LOG = System.getLogger(VirtioDevices.class.getName());
    /** Threads for blocking device I/O per VM: enough to overlap a flush with reads, small per VM. */
    private static final int IO_THREADS = 2;

    private final KvmVm vm;
    private final GuestMemory memory;
    private final boolean ioeventfd;
    private final boolean irqfd;
    private final String vmName;
    private EventLoop loop;
    private ThreadPoolExecutor executor;
    private final List<Attached> attached = new ArrayList<>();

    /** One attached device and the fds wired to it. */
    private record Attached(String name, VirtioDevice device, MmioTransport transport, long base, int gsi,
                            EventFd irqFd, List<EventFd> notifyFds, Environment environment) {}

    VirtioDevices(KvmVm vm, GuestMemory memory, boolean ioeventfd, boolean irqfd, String vmName) {
        this.vm = vm;
        this.memory = memory;
        this.ioeventfd = ioeventfd;
        this.irqfd = irqfd;
        this.vmName = vmName;
    }

    /** Attaches every device in order; returns their kernel command line entries. */
    List<String> attachAll(List<VirtioDeviceConfig> configs, Bus mmio) throws Exception {
        List<String> entries = new ArrayList<>();
        int[] perKind = new int[0];
        List<String> kinds = new ArrayList<>();
        for (int slot = 0; slot < configs.size(); slot++) {
            VirtioDeviceConfig config = configs.get(slot);
            int k = kinds.indexOf(config.kind());
            if (k < 0) {
                kinds.add(config.kind());
                perKind = java.util.Arrays.copyOf(perKind, kinds.size());
                k = kinds.size() - 1;
            }
            String name = config.kind() + perKind[k]++;
            entries.add(attach(slot, config, name, mmio));
        }
        return entries;
    }

    private String attach(int slot, VirtioDeviceConfig config, String name, Bus mmio) throws Exception {
        if (loop == null) {
            loop = new EventLoop(vmName + "-virtio");
        }
        long base = Layout.VIRTIO_MMIO_BASE + slot * Layout.VIRTIO_MMIO_SIZE;
        int gsi = Layout.VIRTIO_IRQ_BASE + slot;
        Environment environment = new Environment();
        VirtioDevice device = null;
        EventFd irqFd = null;
        List<EventFd> notifyFds = new ArrayList<>();
        MmioTransport transport = null;
        try {
            device = config.create(environment, name);
            IrqLine line;
            if (irqfd) {
                irqFd = new EventFd();
                vm.registerIrqfd(irqFd.fd(), gsi);
                line = new IrqfdLine(irqFd);
            } else {
                // No irqfd: pulse the line with KVM_IRQ_LINE (an ioctl per interrupt).
                line = vm.irqLine(gsi);
            }
            transport = new MmioTransport(device, memory, line, name, config.withheldFeatures());
            environment.transport = transport;
            mmio.register(base, Layout.VIRTIO_MMIO_SIZE, transport, "virtio-mmio " + name);
            Runnable[] notify = new Runnable[transport.queueCount()];
            for (int q = 0; q < notify.length; q++) {
                int index = q;
                MmioTransport t = transport;
                notify[q] = () -> t.processQueueNotification(index);
                if (ioeventfd) {
                    EventFd fd = new EventFd();
                    notifyFds.add(fd);
                    vm.registerIoeventfd(base + MmioTransport.QUEUE_NOTIFY_OFFSET, 4, fd.fd(), false, (long) q);
                    loop.register(fd, notify[q]);
                }
            }
            // The MMIO-write path (no ioeventfd, or a datamatch no eventfd has) also runs on the loop.
            MmioTransport t = transport;
            EventLoop l = loop;
            transport.setQueueNotifyHandler(index -> {
                if (index >= 0 && index < notify.length) {
                    l.execute(notify[index]);
                } else {
                    t.processQueueNotification(index); // logs and ignores
                }
            });
        } catch (Exception | Error e) {
            release(new Attached(name, device, transport, base, gsi, irqFd, notifyFds, environment));
            throw e;
        }
        attached.add(new Attached(name, device, transport, base, gsi, irqFd, notifyFds, environment));
        return MmioTransport.kernelCommandLineEntry(base, Layout.VIRTIO_MMIO_SIZE, gsi);
    }

    /** The transport of the device named {@code name} (e.g. "blk0"), for tests and tools. */
    MmioTransport transport(String name) {
        for (Attached a : attached) {
            if (a.name().equals(name)) {
                return a.transport();
            }
        }
        throw new IllegalArgumentException("no virtio device named " + name);
    }

    /** The device named {@code name}, for host-side control (a balloon's target, a NIC's counters). */
    VirtioDevice device(String name) {
        for (Attached a : attached) {
            if (a.name().equals(name)) {
                return a.device();
            }
        }
        throw new IllegalArgumentException("no virtio device named " + name);
    }

    /** The attached devices, in slot order (for {@code MicroVm} to find e.g. its vsock device). */
    List<VirtioDevice> devices() {
        List<VirtioDevice> devices = new ArrayList<>(attached.size());
        for (Attached a : attached) {
            devices.add(a.device());
        }
        return devices;
    }

    private synchronized Executor executor() {
        if (executor == null) {
            AtomicInteger n = new AtomicInteger();
            executor = new ThreadPoolExecutor(IO_THREADS, IO_THREADS, 30, TimeUnit.SECONDS, new LinkedBlockingQueue<>(),
                    r -> Thread.ofPlatform().name(vmName + "-io-" + n.getAndIncrement()).daemon(true).unstarted(r));
            executor.allowCoreThreadTimeOut(true);
        }
        return executor;
    }

    /** What a device sees of its VM: the executor and its transport's lock on the loop. */
    private final class Environment implements DeviceEnvironment {
        volatile MmioTransport transport;
        /** Released with the device, after the loop stopped. */
        final List<EventFd> kickFds = new ArrayList<>();
        final List<AutoCloseable> closeWithDevice = new ArrayList<>();

        @Override
        public Runnable queueKick(int queueIndex) {
            EventFd fd = new EventFd();
            kickFds.add(fd);
            loop.register(fd, () -> {
                MmioTransport t = transport;
                // Host work before the driver is up waits for the device's first pass; no log noise.
                if (t != null && t.isActivated()) {
                    t.processQueueNotification(queueIndex);
                }
            });
            return fd::signal;
        }

        @Override
        public void closeWithDevice(AutoCloseable resource) {
            closeWithDevice.add(resource);
        }

        @Override
        public Executor blockingExecutor() {
            return executor();
        }

        @Override
        public Runnable onLoop(Runnable task) {
            Runnable locked = () -> transport.runLocked(task);
            EventLoop l = loop;
            return () -> l.execute(locked);
        }

        @Override
        public Runnable underLock(Runnable task) {
            return () -> transport.runLocked(task);
        }

        @Override
        public void schedule(long delayNanos, Runnable task) {
            loop.schedule(delayNanos, () -> transport.runLocked(task));
        }

        @Override
        public void watchReadable(int fd, Runnable task) {
            // The fd may fire before attach has set the transport (a tap with frames queued):
            // nothing to do then, the device reads at activation anyway.
            loop.registerReadable(fd, () -> {
                MmioTransport t = transport;
                if (t != null) {
                    t.runLocked(task);
                }
            });
        }

        @Override
        public long nanoTime() {
            return System.nanoTime();
        }
    }

    @Override
    public void close() {
        RuntimeException failure = null;
        ExecutorService e;
        synchronized (this) {
            e = executor;
            executor = null;
        }
        if (e != null) {
            e.shutdown();
            try {
                if (!e.awaitTermination(10, TimeUnit.SECONDS)) {
                    failure = new IllegalStateException("virtio I/O threads did not finish within 10 s");
                }
            } catch (InterruptedException ie) {
                Thread.currentThread().interrupt();
            }
        }
        if (loop != null) {
            try {
                loop.close();
            } catch (RuntimeException ex) {
                failure = ex;
            }
        }
        if (failure != null) {
            // Threads may still use the fds: leaking them beats closing them under a running thread.
            throw failure;
        }
        for (int i = attached.size() - 1; i >= 0; i--) {
            release(attached.get(i));
        }
        attached.clear();
    }

    private void release(Attached a) {
        for (int q = 0; q < a.notifyFds().size(); q++) {
            EventFd fd = a.notifyFds().get(q);
            try {
                vm.unregisterIoeventfd(a.base() + MmioTransport.QUEUE_NOTIFY_OFFSET, 4, fd.fd(), false, (long) q);
            } catch (RuntimeException e) {
                // Never registered (failed attach); closing the fd is what matters.
            }
            fd.close();
        }
        if (a.irqFd() != null) {
            try {
                vm.unregisterIrqfd(a.irqFd().fd(), a.gsi());
            } catch (RuntimeException e) {
                // as above
            }
            a.irqFd().close();
        }
        List<AutoCloseable> extras = a.environment().closeWithDevice;
        for (int i = extras.size() - 1; i >= 0; i--) {
            try {
                extras.get(i).close();
            } catch (Exception e) {
                LOG.log(System.Logger.Level.WARNING, "closing what virtio device " + a.name() + " started failed: " + e.getMessage());
            }
        }
        for (EventFd fd : a.environment().kickFds) {
            fd.close();
        }
        if (a.device() instanceof AutoCloseable c) {
            try {
                c.close();
            } catch (Exception e) {
                LOG.log(System.Logger.Level.WARNING, "closing virtio device " + a.name() + " failed: " + e.getMessage());
            }
        }
    }
}
