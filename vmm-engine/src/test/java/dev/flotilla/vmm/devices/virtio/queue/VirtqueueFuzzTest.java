package dev.flotilla.vmm.devices.virtio.queue;

import net.jqwik.api.Arbitraries;
import net.jqwik.api.Arbitrary;
import net.jqwik.api.Combinators;
import net.jqwik.api.ForAll;
import net.jqwik.api.Property;
import net.jqwik.api.Provide;
import net.jqwik.api.statistics.Statistics;

import java.nio.file.Path;
import java.time.Duration;
import java.util.concurrent.atomic.AtomicReference;

import static org.junit.jupiter.api.Assertions.assertTimeoutPreemptively;

/**
 * Property-based fuzzing of descriptor-chain parsing: random ring contents, random indices and
 * flags, random guest writes racing the device, both layouts, with and without indirect
 * descriptors and event index. The queue may reject, may stop and ask for a reset, but never
 * throws and never hangs. A failing input is written to target/fuzz-failures/ for copying into
 * src/test/resources/regressions/, which {@link FuzzRegressionTest} replays on every build.
 */
class VirtqueueFuzzTest {

    @Provide
    Arbitrary<FuzzCase> cases() {
        Arbitrary<Boolean> packed = Arbitraries.of(false, true);
        Arbitrary<Boolean> indirect = Arbitraries.of(false, true);
        Arbitrary<Boolean> eventIdx = Arbitraries.of(false, true);
        Arbitrary<Integer> sizeExponent = Arbitraries.integers().between(0, 6);
        Arbitrary<Integer> packedSize = Arbitraries.integers().between(1, 64);
        Arbitrary<Long> seed = Arbitraries.longs();
        Arbitrary<Integer> mutations = Arbitraries.integers().between(0, 64);
        return Combinators.combine(packed, indirect, eventIdx, sizeExponent, packedSize, seed, mutations)
                .as((p, i, e, exp, ps, s, mu) -> FuzzCase.generate(p, i, e, p ? ps : 1 << exp, s, mu));
    }

    @Property(tries = 3000)
    void queue_randomRingContents_neverThrowsNorHangs(@ForAll("cases") FuzzCase input) throws Exception {
        AtomicReference<FuzzHarness.Outcome> outcome = new AtomicReference<>();
        try {
            assertTimeoutPreemptively(Duration.ofSeconds(5), () -> outcome.set(FuzzHarness.run(input)));
        } catch (Throwable t) {
            Path file = Path.of("target", "fuzz-failures", "virtqueue-%08x.fuzz".formatted(input.hashCode()));
            input.write(file);
            throw new AssertionError("fuzz input failed; saved to " + file.toAbsolutePath() + ": " + t, t);
        }
        FuzzHarness.Outcome o = outcome.get();
        Statistics.label("layout").collect(input.packed() ? "packed" : "split");
        Statistics.label("outcome").collect(o.needsReset() ? "needs reset" : o.popped() > 0 ? "chains delivered" : "only rejections/empty");
        Statistics.label("chains rejected").collect(o.rejected() == 0 ? "none" : o.rejected() < 4 ? "1-3" : "4+");
    }
}
