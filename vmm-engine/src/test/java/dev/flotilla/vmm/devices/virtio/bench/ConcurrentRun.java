package dev.flotilla.vmm.devices.virtio.bench;

import dev.flotilla.vmm.devices.virtio.VirtioFeatures;
import dev.flotilla.vmm.devices.virtio.queue.DescriptorChain;
import dev.flotilla.vmm.devices.virtio.queue.QueueConfig;
import dev.flotilla.vmm.devices.virtio.queue.Virtqueue;
import dev.flotilla.vmm.devices.virtio.testing.GuestDriver;
import dev.flotilla.vmm.memory.GuestMemory;
import dev.flotilla.vmm.memory.SegmentGuestMemory;

import java.lang.management.ManagementFactory;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.locks.LockSupport;

import static dev.flotilla.vmm.devices.virtio.VirtioFeatures.bit;

/**
 * Driver and device on two threads, as a guest vCPU and the VMM's event loop: the device sleeps
 * until kicked, the driver sleeps when the ring is full until interrupted. Kicks stand for
 * ioeventfd exits and interrupts for irqfd injections, so kicks and interrupts per request show
 * what notification suppression (flags vs EVENT_IDX) saves. park/unpark stand for the eventfds.
 */
final class ConcurrentRun {
    private ConcurrentRun() {}

    record Outcome(long requests, double seconds, double kicksPerRequest, double interruptsPerRequest, double deviceBytesPerRequest) {}

    private static final long DATA = 0x10000;

    static Outcome run(boolean packed, boolean eventIdx, int queueSize, double seconds) throws InterruptedException {
        GuestMemory memory = SegmentGuestMemory.ofHeap(4 << 20);
        GuestDriver driver = packed
                ? GuestDriver.packed(memory, 0x1000, queueSize, eventIdx)
                : GuestDriver.split(memory, 0x1000, queueSize, eventIdx);
        long features = bit(VirtioFeatures.VERSION_1) | (packed ? bit(VirtioFeatures.RING_PACKED) : 0)
                | (eventIdx ? bit(VirtioFeatures.EVENT_IDX) : 0);
        Virtqueue queue;
        try {
            queue = driver.configure(new QueueConfig(queueSize)).activate(memory, features, "bench.q0");
        } catch (Exception e) {
            throw new IllegalStateException(e);
        }
        AtomicBoolean kickPending = new AtomicBoolean();
        AtomicBoolean irqPending = new AtomicBoolean();
        AtomicBoolean stop = new AtomicBoolean();
        long[] interrupts = new long[1];
        long[] deviceAllocated = new long[1];
        long[] deviceRequests = new long[1];
        Thread driverThread = Thread.currentThread();

        Thread device = new Thread(() -> {
            com.sun.management.ThreadMXBean threads = (com.sun.management.ThreadMXBean) ManagementFactory.getThreadMXBean();
            long self = Thread.currentThread().threadId();
            long before = threads.getThreadAllocatedBytes(self);
            while (!stop.get()) {
                kickPending.set(false);
                boolean worked = false;
                DescriptorChain chain;
                // One event-loop pass. pop() returning null has re-armed avail_event and re-checked.
                while ((chain = queue.pop()) != null) {
                    queue.pushUsed(chain, 64);
                    deviceRequests[0]++;
                    worked = true;
                }
                if (queue.finishBatch()) {
                    interrupts[0]++;
                    irqPending.set(true);
                    LockSupport.unpark(driverThread);
                }
                if (!worked && !kickPending.get()) {
                    LockSupport.parkNanos(1_000_000); // epoll_wait on the ioeventfd
                }
            }
            deviceAllocated[0] = threads.getThreadAllocatedBytes(self) - before;
        }, "bench-device");
        device.start();

        long requests = 0;
        long kicks = 0;
        long start = System.nanoTime();
        long deadline = start + (long) (seconds * 1e9);
        driver.disableUsedNotifications();
        while (System.nanoTime() < deadline) {
            // Submit while there is room, one request per kick decision (like virtio-blk).
            while (driver.freeCount() > 0) {
                driver.add(DATA, 4096, true);
                if (driver.kickNeeded()) {
                    kicks++;
                    kickPending.set(true);
                    LockSupport.unpark(device);
                }
            }
            // Reap; when nothing came back, ask for an interrupt, re-check, then sleep.
            boolean reaped = false;
            while (driver.pollUsed()) {
                requests++;
                reaped = true;
            }
            if (!reaped) {
                irqPending.set(false);
                driver.enableUsedNotifications();
                if (driver.pollUsed()) {
                    requests++;
                } else if (!irqPending.get()) {
                    LockSupport.parkNanos(1_000_000);
                }
                driver.disableUsedNotifications();
            }
        }
        double elapsed = (System.nanoTime() - start) / 1e9;
        stop.set(true);
        LockSupport.unpark(device);
        device.join();
        return new Outcome(requests, elapsed, (double) kicks / requests, (double) interrupts[0] / requests,
                (double) deviceAllocated[0] / Math.max(1, deviceRequests[0]));
    }
}
