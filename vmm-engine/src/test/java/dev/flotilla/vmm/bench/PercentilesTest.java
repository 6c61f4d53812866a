package dev.flotilla.vmm.bench;

import org.junit.jupiter.api.Test;

import java.util.List;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

class PercentilesTest {

    @Test
    void of_tenSamples_usesNearestRank() {
        Percentiles p = Percentiles.of(List.of(10.0, 1.0, 9.0, 2.0, 8.0, 3.0, 7.0, 4.0, 6.0, 5.0));
        assertEquals(5.0, p.p50());
        assertEquals(10.0, p.p95());
        assertEquals(1.0, p.min());
        assertEquals(5.5, p.mean(), 1e-9);
    }

    @Test
    void of_noSamples_isNaN() {
        assertTrue(Double.isNaN(Percentiles.of(List.of()).p50()));
    }
}
