package dev.flotilla.controlplane.ui;

import org.junit.jupiter.api.Test;

import java.util.List;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

class FleetSeriesTest {

    @Test
    void histogram_spreadValues_coverMinToMaxInAtMostTwentyBuckets() {
        long[] sorted = new long[1000];
        for (int i = 0; i < sorted.length; i++) {
            sorted[i] = 40 + i;
        }

        List<FleetSeries.Bucket> buckets = FleetSeries.histogram(sorted);

        assertTrue(buckets.size() <= 20, "got " + buckets.size() + " buckets");
        assertEquals(40, buckets.getFirst().from());
        assertTrue(buckets.getLast().to() > 1039);
        assertEquals(1000, buckets.stream().mapToInt(FleetSeries.Bucket::count).sum());
    }

    @Test
    void histogram_oneValue_isOneBucket() {
        assertEquals(List.of(new FleetSeries.Bucket(42, 43, 3)), FleetSeries.histogram(new long[]{42, 42, 42}));
    }

    @Test
    void percentile_nearestRank_picksTheValueAtTheRank() {
        long[] sorted = {10, 20, 30, 40, 50, 60, 70, 80, 90, 100};
        assertEquals(50, FleetSeries.percentile(sorted, 0.5));
        assertEquals(100, FleetSeries.percentile(sorted, 0.99));
        assertEquals(10, FleetSeries.percentile(sorted, 0.0));
    }
}
