package dev.flotilla.vmm.devices.virtio.queue;

import dev.flotilla.vmm.devices.virtio.VirtioFeatures;
import dev.flotilla.vmm.devices.virtio.testing.GuestDriver;
import dev.flotilla.vmm.memory.GuestMemory;
import dev.flotilla.vmm.memory.SegmentGuestMemory;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

import java.lang.management.ManagementFactory;

import static dev.flotilla.vmm.devices.virtio.VirtioFeatures.bit;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** The request path (pop, walk buffers, pushUsed, finishBatch) must not allocate per request. */
class HotPathAllocationTest {

    @ParameterizedTest(name = "packed={0}, eventIdx={1}")
    @CsvSource({"false,false", "false,true", "true,false", "true,true"})
    void requestPath_steadyState_allocatesLessThanOneBytePerHundredRequests(boolean packed, boolean eventIdx) throws Exception {
        GuestMemory memory = SegmentGuestMemory.ofHeap(1 << 20);
        GuestDriver driver = packed ? GuestDriver.packed(memory, 0x1000, 64, eventIdx) : GuestDriver.split(memory, 0x1000, 64, eventIdx);
        long features = bit(VirtioFeatures.VERSION_1) | (packed ? bit(VirtioFeatures.RING_PACKED) : 0) | (eventIdx ? bit(VirtioFeatures.EVENT_IDX) : 0);
        Virtqueue queue = driver.configure(new QueueConfig(64)).activate(memory, features, "alloc.q0");
        com.sun.management.ThreadMXBean threads = (com.sun.management.ThreadMXBean) ManagementFactory.getThreadMXBean();
        long thread = Thread.currentThread().threadId();

        runRequests(driver, queue, 50_000); // warm-up
        long before = threads.getThreadAllocatedBytes(thread);
        int requests = runRequests(driver, queue, 200_000);
        long allocated = threads.getThreadAllocatedBytes(thread) - before;

        assertTrue(allocated < requests / 100, "allocated %d bytes over %d requests".formatted(allocated, requests));
    }

    private static int runRequests(GuestDriver driver, Virtqueue queue, int count) {
        int done = 0;
        while (done < count) {
            for (int i = 0; i < 16; i++) {
                driver.add(0x10000 + 512L * i, 512, true);
            }
            DescriptorChain chain;
            while ((chain = queue.pop()) != null) {
                queue.pushUsed(chain, chain.length(0));
            }
            queue.finishBatch();
            while (driver.pollUsed()) {
                done++;
            }
            driver.enableUsedNotifications();
        }
        return done;
    }
}
