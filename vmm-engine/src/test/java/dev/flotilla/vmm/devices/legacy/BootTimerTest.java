package dev.flotilla.vmm.devices.legacy;

import dev.flotilla.vmm.arch.x86_64.Layout;
import org.junit.jupiter.api.Test;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

class BootTimerTest {

    @Test
    void magicWrite_recordsTimeSinceStart() {
        long start = System.nanoTime() - 5_000_000;
        BootTimer timer = new BootTimer(start);
        timer.write(0, 1, Layout.BOOT_TIMER_MAGIC);
        assertTrue(timer.bootNanos().orElseThrow() >= 5_000_000);
    }

    @Test
    void otherValueOrOffset_recordsNothing() {
        BootTimer timer = new BootTimer(System.nanoTime());
        timer.write(0, 1, 122);
        timer.write(4, 1, Layout.BOOT_TIMER_MAGIC);
        assertFalse(timer.bootNanos().isPresent());
    }

    @Test
    void secondMagicWrite_keepsTheFirstTime() {
        BootTimer timer = new BootTimer(System.nanoTime());
        timer.write(0, 1, Layout.BOOT_TIMER_MAGIC);
        long first = timer.bootNanos().orElseThrow();
        timer.write(0, 1, Layout.BOOT_TIMER_MAGIC);
        assertEquals(first, timer.bootNanos().orElseThrow());
    }
}
