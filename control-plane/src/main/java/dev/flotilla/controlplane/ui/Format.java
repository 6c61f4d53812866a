package dev.flotilla.controlplane.ui;

import java.time.Duration;
import java.time.Instant;
import java.util.Map;
import java.util.stream.Collectors;

/** How numbers, times and label maps are written on the dashboard. */
final class Format {
    private Format() {
    }

    /** "512 MiB", "1.5 GiB", "2 TiB". */
    static String mebibytes(long mib) {
        if (mib < 1024) {
            return mib + " MiB";
        }
        double gib = mib / 1024.0;
        if (gib < 1024) {
            return trim(gib) + " GiB";
        }
        return trim(gib / 1024.0) + " TiB";
    }

    /** "3 s ago", "5 min ago", "2 h ago", "4 d ago"; "never" for null. */
    static String age(Instant at, Instant now) {
        if (at == null) {
            return "never";
        }
        Duration d = Duration.between(at, now);
        if (d.isNegative()) {
            d = Duration.ZERO;
        }
        if (d.toSeconds() < 60) {
            return d.toSeconds() + " s ago";
        }
        if (d.toMinutes() < 60) {
            return d.toMinutes() + " min ago";
        }
        if (d.toHours() < 48) {
            return d.toHours() + " h ago";
        }
        return d.toDays() + " d ago";
    }

    /** "app=web, tier=db", or "" for none. */
    static String labels(Map<String, String> labels) {
        if (labels == null || labels.isEmpty()) {
            return "";
        }
        return labels.entrySet().stream().map(e -> e.getKey() + "=" + e.getValue()).collect(Collectors.joining(", "));
    }

    /** Percentage of used in total, 0..100, 0 when total is 0. */
    static int percent(long used, long total) {
        if (total <= 0) {
            return 0;
        }
        return (int) Math.min(100, Math.round(100.0 * used / total));
    }

    /** "42 ms", "1.3 s"; "–" for null or NaN. */
    static String millis(Double ms) {
        if (ms == null || ms.isNaN()) {
            return "–";
        }
        if (ms < 1000) {
            return Math.round(ms) + " ms";
        }
        return trim(ms / 1000.0) + " s";
    }

    /** A taint effect as the API writes it. */
    static String effect(dev.flotilla.contract.v1.TaintEffect effect) {
        return switch (effect) {
            case NO_SCHEDULE -> "NoSchedule";
            case PREFER_NO_SCHEDULE -> "PreferNoSchedule";
            case NO_EXECUTE -> "NoExecute";
            case UNKNOWN -> "Unknown";
        };
    }

    private static String trim(double value) {
        String text = String.format(java.util.Locale.ROOT, "%.1f", value);
        return text.endsWith(".0") ? text.substring(0, text.length() - 2) : text;
    }
}
