package dev.flotilla.vmm.devices.virtio.mmio;

import dev.flotilla.vmm.devices.virtio.rng.VirtioRng;
import dev.flotilla.vmm.testing.RecordingIrqLine;
import dev.flotilla.vmm.memory.SegmentGuestMemory;
import net.jqwik.api.Arbitraries;
import net.jqwik.api.Arbitrary;
import net.jqwik.api.Combinators;
import net.jqwik.api.ForAll;
import net.jqwik.api.Property;
import net.jqwik.api.Provide;

import java.util.List;

/**
 * Random register traffic against the transport (with a real device behind it): any sequence of
 * reads and writes, at any offset and width, with values biased toward the ones that move the
 * state machine. Nothing may throw; the transport just ignores what it must.
 */
class MmioTransportFuzzTest {

    record Access(boolean write, long offset, int size, long value) {}

    private static final int[] REGISTERS = {0x000, 0x004, 0x008, 0x00c, 0x010, 0x014, 0x020, 0x024, 0x030, 0x034,
            0x038, 0x044, 0x050, 0x060, 0x064, 0x070, 0x080, 0x084, 0x090, 0x094, 0x0a0, 0x0a4, 0x0ac, 0x0b0, 0x0fc, 0x100};

    @Provide
    Arbitrary<List<Access>> traffic() {
        Arbitrary<Long> offset = Arbitraries.oneOf(
                Arbitraries.of(java.util.Arrays.stream(REGISTERS).mapToObj(Long::valueOf).toList()),
                Arbitraries.longs().between(0, 0x1000));
        Arbitrary<Integer> size = Arbitraries.of(1, 2, 4, 4, 4, 8);
        Arbitrary<Long> value = Arbitraries.oneOf(
                Arbitraries.of(0L, 1L, 2L, 3L, 7L, 11L, 15L, 0x80L, 1L << 32, 0xffff_ffffL, 8L, 16L, 256L, 0x1000L, 0x2000L),
                Arbitraries.longs());
        Arbitrary<Access> access = Combinators.combine(Arbitraries.of(true, true, false), offset, size, value).as(Access::new);
        return access.list().ofMinSize(1).ofMaxSize(200);
    }

    /**
     * A well-behaved start (§3.1.1) with random features, queue size and ring addresses, so the
     * random traffic after it also reaches running queues and the device.
     */
    private static void initialise(MmioTransport t, long seed) {
        java.util.SplittableRandom r = new java.util.SplittableRandom(seed);
        t.write(0x070, 4, 1);
        t.write(0x070, 4, 3);
        long features = (1L << 32) | (r.nextBoolean() ? 1L << 34 : 0) | (r.nextBoolean() ? 1L << 29 : 0) | (r.nextBoolean() ? 1L << 28 : 0);
        t.write(0x024, 4, 0);
        t.write(0x020, 4, features & 0xffff_ffffL);
        t.write(0x024, 4, 1);
        t.write(0x020, 4, features >>> 32);
        t.write(0x070, 4, 11);
        t.write(0x030, 4, 0);
        t.write(0x038, 4, 1L << r.nextInt(0, 9));
        t.write(0x080, 4, r.nextInt(0, 1 << 16) & ~15L);
        t.write(0x090, 4, r.nextInt(0, 1 << 16) & ~3L);
        t.write(0x0a0, 4, r.nextInt(0, 1 << 16) & ~3L);
        t.write(0x044, 4, 1);
        t.write(0x070, 4, 15);
    }

    @Property(tries = 1000)
    void transport_randomRegisterTraffic_neverThrows(@ForAll("traffic") List<Access> accesses,
                                                     @ForAll boolean initialiseFirst, @ForAll long seed) {
        SegmentGuestMemory memory = SegmentGuestMemory.ofHeap(1 << 16);
        new java.util.SplittableRandom(seed).nextBytes(memoryBytes(memory));
        MmioTransport transport = new MmioTransport(new VirtioRng(), memory, new RecordingIrqLine(), "fuzz0");
        if (initialiseFirst) {
            initialise(transport, seed);
        }
        net.jqwik.api.statistics.Statistics.label("activated").collect(transport.isActivated());
        for (Access a : accesses) {
            if (a.write()) {
                transport.write(a.offset(), a.size(), a.value());
            } else {
                transport.read(a.offset(), a.size());
            }
        }
    }

    private static byte[] memoryBytes(SegmentGuestMemory memory) {
        return (byte[]) memory.regions().getFirst().segment().heapBase().orElseThrow();
    }
}
