package dev.flotilla.vmm.bench;

import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/** Nearest-rank percentiles over a sample of durations in milliseconds. */
record Percentiles(int n, double min, double p50, double p95, double max, double mean) {

    static Percentiles of(List<Double> millis) {
        if (millis.isEmpty()) {
            return new Percentiles(0, Double.NaN, Double.NaN, Double.NaN, Double.NaN, Double.NaN);
        }
        double[] v = millis.stream().mapToDouble(Double::doubleValue).sorted().toArray();
        return new Percentiles(v.length, v[0], rank(v, 0.50), rank(v, 0.95), v[v.length - 1],
                Arrays.stream(v).average().orElse(Double.NaN));
    }

    private static double rank(double[] sorted, double p) {
        int index = (int) Math.ceil(p * sorted.length) - 1;
        return sorted[Math.max(0, Math.min(sorted.length - 1, index))];
    }

    String describe() {
        return n == 0 ? "no samples" : String.format(java.util.Locale.ROOT,
                "p50 %.1f ms, p95 %.1f ms (min %.1f, max %.1f, n=%d)", p50, p95, min, max, n);
    }

    Map<String, Object> toMap(List<Double> samples) {
        Map<String, Object> m = new LinkedHashMap<>();
        m.put("n", n);
        m.put("p50_ms", p50);
        m.put("p95_ms", p95);
        m.put("min_ms", min);
        m.put("max_ms", max);
        m.put("mean_ms", mean);
        m.put("samples_ms", samples);
        return m;
    }
}
