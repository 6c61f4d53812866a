package dev.flotilla.vmm.sys;

import org.junit.jupiter.api.Test;

import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.atomic.AtomicReference;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

class ThreadStackTest {

    private static int depth(int n) {
        byte[] pad = new byte[64];
        return n == 0 ? pad.length : depth(n - 1) + pad[0] + 1;
    }

    @Test
    void releaseUnusedPages_onFreshThread_releasesBelowStackPointerAndThreadKeepsRunning() throws Exception {
        AtomicLong released = new AtomicLong();
        AtomicReference<Throwable> failure = new AtomicReference<>();
        AtomicLong result = new AtomicLong();
        Thread t = Thread.ofPlatform().stackSize(256 * 1024).start(() -> {
            try {
                released.set(ThreadStack.releaseUnusedPages());
                // Deep calls afterwards fault the released pages back in as zero pages.
                result.set(depth(500));
            } catch (Throwable e) {
                failure.set(e);
            }
        });
        t.join();
        assertNull(failure.get());
        assertTrue(released.get() >= 64 * 1024, "released " + released.get() + " bytes");
        assertEquals(64 + 500, result.get());
    }

    @Test
    void stackPointer_liesWithinTheCallingThreadsStack() {
        long sp = ThreadStack.stackPointer();
        long[] stack = Libc.currentThreadStack();
        assertTrue(sp > stack[0] && sp <= stack[0] + stack[1],
                "sp 0x%x outside [0x%x, 0x%x)".formatted(sp, stack[0], stack[0] + stack[1]));
    }

    @Test
    void parseStackPointer_procSyscallLine_returnsLastButOneField() {
        byte[] line = "0 0x5 0x7f00 0x100 0x0 0x0 0x0 0x7ffd1234abc0 0x7f12deadbeef\n".getBytes();
        assertEquals(0x7ffd1234abc0L, ThreadStack.parseStackPointer(line));
    }

    @Test
    void parseStackPointer_runningOrGarbledLine_returnsMinusOne() {
        assertEquals(-1, ThreadStack.parseStackPointer("running\n".getBytes()));
        assertEquals(-1, ThreadStack.parseStackPointer("0 0x1 zz 0x2".getBytes()));
    }

    @Test
    void releaseUnusedPages_calledTwice_secondCallLeavesNoLiveFrameDamaged() throws Exception {
        AtomicReference<Throwable> failure = new AtomicReference<>();
        AtomicLong result = new AtomicLong();
        Thread t = Thread.ofPlatform().stackSize(256 * 1024).start(() -> {
            try {
                long canary = depth(3);
                ThreadStack.releaseUnusedPages();
                ThreadStack.releaseUnusedPages();
                result.set(canary + depth(200));
            } catch (Throwable e) {
                failure.set(e);
            }
        });
        t.join();
        assertNull(failure.get());
        assertEquals(64 + 3 + 64 + 200, result.get());
    }
}
