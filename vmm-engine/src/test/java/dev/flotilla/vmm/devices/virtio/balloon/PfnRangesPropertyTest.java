package dev.flotilla.vmm.devices.virtio.balloon;

import dev.flotilla.vmm.devices.virtio.VirtioFeatures;
import dev.flotilla.vmm.devices.virtio.queue.DescriptorChain;
import dev.flotilla.vmm.devices.virtio.queue.QueueConfig;
import dev.flotilla.vmm.devices.virtio.queue.Virtqueue;
import dev.flotilla.vmm.devices.virtio.testing.GuestDriver;
import dev.flotilla.vmm.devices.virtio.testing.GuestDriver.Buffer;
import dev.flotilla.vmm.memory.GuestMemory;
import dev.flotilla.vmm.memory.SegmentGuestMemory;
import net.jqwik.api.Arbitraries;
import net.jqwik.api.Arbitrary;
import net.jqwik.api.ForAll;
import net.jqwik.api.Property;
import net.jqwik.api.Provide;
import net.jqwik.api.constraints.IntRange;

import java.util.ArrayList;
import java.util.List;
import java.util.TreeSet;

import static org.junit.jupiter.api.Assertions.*;

/**
 * PFN parsing against arbitrary lists split anywhere into descriptors: never an exception, the
 * ranges handed out cover exactly the valid PFNs, every range lies in guest RAM, and invalid PFNs
 * are counted, not released.
 */
class PfnRangesPropertyTest {

    static final long MEMORY = 1 << 20;
    static final long LIST = 0x80000;

    @Provide
    Arbitrary<List<Long>> pfnLists() {
        Arbitrary<Long> inside = Arbitraries.longs().between(0, MEMORY / 4096 - 1);
        Arbitrary<Long> runs = Arbitraries.longs().between(0, 8); // small numbers: long runs of neighbours
        Arbitrary<Long> anything = Arbitraries.longs().between(0, 0xffff_ffffL);
        return Arbitraries.frequencyOf(
                net.jqwik.api.Tuple.of(5, inside), net.jqwik.api.Tuple.of(3, runs), net.jqwik.api.Tuple.of(1, anything))
                .list().ofMaxSize(300);
    }

    @Property(tries = 500)
    void parse_anyPfnList_rangesCoverExactlyTheValidPfns(@ForAll("pfnLists") List<Long> pfns,
                                                         @ForAll @IntRange(min = 1, max = 7) int pieces) throws Exception {
        GuestMemory memory = SegmentGuestMemory.ofHeap(MEMORY);
        for (int i = 0; i < pfns.size(); i++) {
            memory.writeInt(LIST + 4L * i, (int) (long) pfns.get(i));
        }
        int bytes = 4 * pfns.size();
        if (bytes == 0) {
            return;
        }
        // Split the list into `pieces` descriptors at arbitrary byte offsets (PFNs may straddle them).
        List<Buffer> buffers = new ArrayList<>();
        int start = 0;
        for (int p = 1; p <= pieces && start < bytes; p++) {
            int end = p == pieces ? bytes : Math.max(start + 1, Math.min(bytes, (int) ((long) bytes * p / pieces) + (p % 3) - 1));
            buffers.add(Buffer.readable(LIST + start, end - start));
            start = end;
        }
        GuestDriver driver = GuestDriver.split(memory, 0x1000, 16, false);
        Virtqueue queue = driver.configure(new QueueConfig(16)).activate(memory, VirtioFeatures.bit(VirtioFeatures.VERSION_1), "q");
        driver.add(buffers.toArray(new Buffer[0]));
        DescriptorChain chain = queue.newChain();
        assertTrue(queue.pop(chain));
        TreeSet<Long> released = new TreeSet<>();
        long[] rangeCount = {0};
        PfnRanges.Result result = new PfnRanges.Result();

        BalloonRejection r = PfnRanges.parse(chain, memory, (gpa, length) -> {
            assertTrue(memory.contains(gpa, length));
            assertEquals(0, gpa % 4096);
            assertEquals(0, length % 4096);
            for (long a = gpa; a < gpa + length; a += 4096) {
                released.add(a / 4096);
            }
            rangeCount[0]++;
        }, result);

        assertNull(r);
        TreeSet<Long> valid = new TreeSet<>();
        long invalid = 0;
        for (long pfn : pfns) {
            if (pfn < MEMORY / 4096) {
                valid.add(pfn);
            } else {
                invalid++;
            }
        }
        assertEquals(valid, released);
        assertEquals(invalid, result.outsideMemory());
        assertEquals(pfns.size() - invalid, result.pages());
        assertTrue(rangeCount[0] <= result.pages());
    }
}
