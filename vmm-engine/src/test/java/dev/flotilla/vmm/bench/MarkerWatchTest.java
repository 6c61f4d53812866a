package dev.flotilla.vmm.bench;

import org.junit.jupiter.api.Test;

import java.nio.charset.StandardCharsets;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

class MarkerWatchTest {

    private static MarkerWatch fed(String text) {
        MarkerWatch w = new MarkerWatch(BootBench.MARKER);
        for (byte b : text.getBytes(StandardCharsets.US_ASCII)) {
            w.write(b);
        }
        return w;
    }

    @Test
    void write_markerAfterPartialMatch_isSeen() {
        assertTrue(fed("flotilla-ini\nflotilla-init: userspace up (1 cpus)\n").seenAt() > 0);
    }

    @Test
    void write_markerSplitByOtherOutput_isNotSeen() {
        assertEquals(-1, fed("flotilla-init: user\nspace up").seenAt());
    }

    @Test
    void tail_afterLongOutput_keepsTheLastBytes() {
        MarkerWatch w = fed("x".repeat(5000) + "end");
        assertTrue(w.tail().endsWith("xend"));
        assertEquals(4096, w.tail().length());
    }
}
