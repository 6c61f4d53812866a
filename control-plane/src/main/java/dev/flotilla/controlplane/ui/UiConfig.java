package dev.flotilla.controlplane.ui;

import io.smallrye.config.ConfigMapping;
import io.smallrye.config.WithDefault;

import java.time.Duration;

/** Settings of the web dashboard ({@code flotilla.ui.*}). */
@ConfigMapping(prefix = "flotilla.ui")
public interface UiConfig {

    /** A dashboard session unused for this long ends; the user enters the token again. */
    @WithDefault("12h")
    Duration sessionIdleTimeout();

    /** Most dashboard sessions held at once; the least recently used one ends beyond that. */
    @WithDefault("10000")
    int maxSessions();

    /** How often the fleet is checked for changes to push to open dashboards (one cheap query per check). */
    @WithDefault("1s")
    Duration liveInterval();

    /** Width of one density sample (one row per node each time); also read by {@code @Scheduled} in FleetSeries. */
    @WithDefault("60s")
    Duration sampleInterval();

    /** How long density samples and boot times are kept for the charts. */
    @WithDefault("24h")
    Duration retention();
}
