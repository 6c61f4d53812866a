package dev.flotilla.node.bench;

import com.fasterxml.jackson.databind.JsonNode;

import java.util.List;
import java.util.Locale;
import java.util.function.ToDoubleFunction;

/** The density benchmark's plot: a self-contained HTML page with inline SVG charts, no script, no downloads. */
final class DensityPlot {
    private static final int W = 720;
    private static final int H = 300;
    private static final int PAD = 56;
    /** Room right of the plot area for the last x tick label. */
    private static final int RIGHT = 40;

    private DensityPlot() {
    }

    static String html(JsonNode result, double[] bootMs, List<DensityBench.Checkpoint> checkpoints) {
        StringBuilder b = new StringBuilder();
        b.append("<!doctype html><html><head><meta charset=\"utf-8\"><title>Flotilla density: ")
                .append(result.path("count").asInt()).append(" sandboxes</title><style>body{font:14px sans-serif;margin:24px}"
                        + "svg{background:#fafafa;border:1px solid #ddd;margin:8px 0}td,th{padding:2px 10px;text-align:right}</style></head><body>");
        b.append("<h1>Flotilla node agent: ").append(result.path("count").asInt()).append(" tiny-guest sandboxes</h1>");
        b.append("<p>").append(result.path("date").asText()).append(", KVM ").append(result.path("kvm").path("kind").asText())
                .append(". Creation ").append(fmt(result.path("creation_rate_per_s").asDouble())).append(" sandboxes/s; boot p50 ")
                .append(fmt(result.path("boot_ms_p50").asDouble())).append(" ms, p99 ").append(fmt(result.path("boot_ms_p99").asDouble()))
                .append(" ms; per VM ").append(fmt(result.path("memavailable_kib_per_vm").asDouble())).append(" KiB of MemAvailable; agent heap ")
                .append(fmt(result.path("agent_heap_used_mib").asDouble())).append(" MiB, ").append(result.path("agent_jvm_threads").asInt())
                .append(" JVM threads.</p>");

        double[] x = new double[bootMs.length];
        for (int i = 0; i < x.length; i++) {
            x[i] = i + 1;
        }
        b.append("<h2>Boot time of each sandbox (ms) against the number already created</h2>");
        b.append(chart(x, bootMs, "sandbox #", "boot ms", false));

        double[] n = checkpoints.stream().mapToDouble(DensityBench.Checkpoint::count).toArray();
        b.append("<h2>Host memory per VM (KiB) against N</h2>");
        b.append(multi(n, List.of(
                series(checkpoints, c -> (double) c.memAvailableDropKib() / c.count(), "MemAvailable fall", "#c0392b"),
                series(checkpoints, c -> (double) c.agentRssKib() / c.count(), "agent RSS rise", "#2980b9"),
                series(checkpoints, c -> (double) c.kernelKib() / c.count(), "kernel (slab+stacks+page tables)", "#27ae60")), "N", "KiB per VM"));
        b.append("<h2>Agent threads against N</h2>");
        b.append(multi(n, List.of(
                series(checkpoints, c -> c.agentThreads(), "JVM threads", "#8e44ad"),
                series(checkpoints, c -> c.osThreads(), "OS tasks (incl. KVM's per-VM kernel worker)", "#7f8c8d")), "N", ""));
        b.append("<h2>Agent heap after a full GC (MiB) against N</h2>");
        b.append(multi(n, List.of(
                series(checkpoints, c -> c.heapUsedBytes() / 1048576.0, "live heap (MiB)", "#d35400")), "N", ""));

        b.append("<h2>Checkpoints</h2><table><tr><th>N</th><th>s</th><th>MemAvailable KiB/VM</th><th>agent RSS KiB/VM</th>"
                + "<th>kernel KiB/VM</th><th>heap MiB (live)</th><th>JVM threads</th><th>OS tasks</th></tr>");
        for (DensityBench.Checkpoint c : checkpoints) {
            b.append("<tr><td>").append(c.count()).append("</td><td>").append(fmt(c.seconds())).append("</td><td>")
                    .append(fmt((double) c.memAvailableDropKib() / c.count())).append("</td><td>")
                    .append(fmt((double) c.agentRssKib() / c.count())).append("</td><td>")
                    .append(fmt((double) c.kernelKib() / c.count())).append("</td><td>")
                    .append(fmt(c.heapUsedBytes() / 1048576.0)).append("</td><td>").append(c.agentThreads()).append("</td><td>")
                    .append(c.osThreads()).append("</td></tr>");
        }
        b.append("</table></body></html>\n");
        return b.toString();
    }

    private record Series(double[] y, String name, String color) {
    }

    private static Series series(List<DensityBench.Checkpoint> cs, ToDoubleFunction<DensityBench.Checkpoint> f, String name, String color) {
        return new Series(cs.stream().mapToDouble(f).toArray(), name, color);
    }

    private static String chart(double[] x, double[] y, String xLabel, String yLabel, boolean lines) {
        return multi(x, List.of(new Series(y, yLabel, "#2c3e50")), xLabel, yLabel, lines);
    }

    private static String multi(double[] x, List<Series> series, String xLabel, String yLabel) {
        return multi(x, series, xLabel, yLabel, true);
    }

    private static String multi(double[] x, List<Series> series, String xLabel, String yLabel, boolean lines) {
        double xMax = 1;
        for (double v : x) {
            xMax = Math.max(xMax, v);
        }
        double yMax = 1e-9;
        for (Series s : series) {
            for (double v : s.y()) {
                yMax = Math.max(yMax, v);
            }
        }
        yMax *= 1.1;
        StringBuilder b = new StringBuilder();
        b.append("<svg width=\"").append(W).append("\" height=\"").append(H).append("\" xmlns=\"http://www.w3.org/2000/svg\">");
        b.append("<line x1=\"").append(PAD).append("\" y1=\"").append(H - PAD).append("\" x2=\"").append(W - RIGHT)
                .append("\" y2=\"").append(H - PAD).append("\" stroke=\"#333\"/>");
        b.append("<line x1=\"").append(PAD).append("\" y1=\"10\" x2=\"").append(PAD).append("\" y2=\"").append(H - PAD).append("\" stroke=\"#333\"/>");
        for (int t = 0; t <= 4; t++) {
            double yv = yMax * t / 4;
            double py = H - PAD - (H - PAD - 10) * t / 4.0;
            b.append(String.format(Locale.ROOT, "<text x=\"4\" y=\"%.1f\" font-size=\"11\">%s</text>", py + 4, fmt(yv)));
            double xv = xMax * t / 4;
            double px = PAD + (W - RIGHT - PAD) * t / 4.0;
            b.append(String.format(Locale.ROOT, "<text x=\"%.1f\" y=\"%d\" font-size=\"11\" text-anchor=\"middle\">%s</text>", px, H - PAD + 16, fmt(xv)));
        }
        b.append(String.format(Locale.ROOT, "<text x=\"%d\" y=\"%d\" font-size=\"12\">%s</text>", W / 2, H - 12, xLabel));
        int legend = 0;
        for (Series s : series) {
            StringBuilder path = new StringBuilder();
            for (int i = 0; i < x.length && i < s.y().length; i++) {
                if (s.y()[i] < 0) {
                    continue;
                }
                double px = PAD + (W - RIGHT - PAD) * x[i] / xMax;
                double py = H - PAD - (H - PAD - 10) * s.y()[i] / yMax;
                if (lines) {
                    path.append(path.isEmpty() ? "M" : "L").append(String.format(Locale.ROOT, "%.1f %.1f ", px, py));
                    b.append(String.format(Locale.ROOT, "<circle cx=\"%.1f\" cy=\"%.1f\" r=\"3\" fill=\"%s\"/>", px, py, s.color()));
                } else {
                    b.append(String.format(Locale.ROOT, "<circle cx=\"%.1f\" cy=\"%.1f\" r=\"1.5\" fill=\"%s\"/>", px, py, s.color()));
                }
            }
            if (lines && !path.isEmpty()) {
                b.append("<path d=\"").append(path).append("\" fill=\"none\" stroke=\"").append(s.color()).append("\"/>");
            }
            b.append(String.format(Locale.ROOT, "<text x=\"%d\" y=\"%d\" font-size=\"12\" fill=\"%s\">%s</text>",
                    PAD + 10, 22 + 16 * legend++, s.color(), s.name()));
        }
        b.append("</svg>");
        return b.toString();
    }

    private static String fmt(double v) {
        return Math.abs(v) >= 100 ? String.format(Locale.ROOT, "%.0f", v) : String.format(Locale.ROOT, "%.2f", v);
    }
}
