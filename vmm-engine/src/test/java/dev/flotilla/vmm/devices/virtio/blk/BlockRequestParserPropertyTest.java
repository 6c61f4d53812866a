package dev.flotilla.vmm.devices.virtio.blk;

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
import net.jqwik.api.Combinators;
import net.jqwik.api.ForAll;
import net.jqwik.api.Property;
import net.jqwik.api.Provide;

import java.util.List;

import static org.junit.jupiter.api.Assertions.*;

/**
 * Request parsing against arbitrary guest input: random chain shapes (split into descriptors
 * anywhere), random header bytes and segment lists. The parser must never throw, and every
 * request it accepts must respect the disk and config limits.
 */
class BlockRequestParserPropertyTest {

    static final long CAPACITY = 1024;
    static final BlockLimits LIMITS = new BlockLimits(CAPACITY, false, true, true, true);

    record Shape(List<Integer> readable, List<Integer> writable, int type, long sector, byte[] payload) {}

    @Provide
    Arbitrary<Shape> shapes() {
        Arbitrary<List<Integer>> lengths = Arbitraries.integers().between(0, 2048).list().ofMinSize(0).ofMaxSize(5);
        Arbitrary<Integer> types = Arbitraries.oneOf(Arbitraries.of(0, 1, 4, 8, 11, 13, 14), Arbitraries.integers());
        Arbitrary<Long> sectors = Arbitraries.oneOf(Arbitraries.longs().between(0, CAPACITY + 2), Arbitraries.longs());
        Arbitrary<byte[]> payload = Arbitraries.bytes().array(byte[].class).ofSize(2048);
        return Combinators.combine(lengths, lengths, types, sectors, payload).as(Shape::new);
    }

    @Property(tries = 400)
    void parse_anyChain_neverThrowsAndAcceptedRequestsFitTheDisk(@ForAll("shapes") Shape shape) throws Exception {
        GuestMemory memory = SegmentGuestMemory.ofHeap(1 << 20);
        GuestDriver driver = GuestDriver.split(memory, 0x1000, 16, false);
        Virtqueue queue = driver.configure(new QueueConfig(16)).activate(memory, VirtioFeatures.bit(VirtioFeatures.VERSION_1), "q");
        long address = 0x10000;
        Buffer[] buffers = new Buffer[shape.readable().size() + shape.writable().size()];
        int n = 0;
        for (int length : shape.readable()) {
            memory.write(address, shape.payload(), 0, Math.min(length, shape.payload().length));
            buffers[n++] = Buffer.readable(address, length);
            address += 4096;
        }
        for (int length : shape.writable()) {
            buffers[n++] = Buffer.writable(address, length);
            address += 4096;
        }
        if (buffers.length == 0) {
            return;
        }
        if (!shape.readable().isEmpty() && shape.readable().getFirst() >= 16) {
            memory.writeInt(0x10000, shape.type());
            memory.writeLong(0x10008, shape.sector());
        }
        driver.add(buffers);
        DescriptorChain chain = queue.newChain();
        if (!queue.pop(chain)) {
            return; // the queue layer rejected the chain itself
        }
        BlockRequest request = new BlockRequest(chain);

        BlockRejection rejection = BlockRequestParser.parse(request, memory, LIMITS);

        if (rejection == null) {
            assertTrue(request.statusAddress() >= 0);
            if (request.type() == BlockRequest.T_IN || request.type() == BlockRequest.T_OUT) {
                assertEquals(0, request.dataLength() % 512);
                assertTrue(request.sector() >= 0 && request.sector() + request.dataLength() / 512 <= CAPACITY);
            }
            for (int i = 0; i < request.segmentCount(); i++) {
                assertTrue(request.segmentSector(i) >= 0
                        && request.segmentSector(i) + Integer.toUnsignedLong(request.segmentSectors(i)) <= CAPACITY);
            }
        } else if (rejection != BlockRejection.STATUS_MISSING) {
            assertNotEquals(BlockRejection.Status.NONE, rejection.status());
        }
    }
}
