package dev.flotilla.vmm.sys;

import java.lang.foreign.MemoryLayout;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.StructLayout;
import java.lang.foreign.ValueLayout;

/** {@code struct epoll_event}, which x86_64 packs: 12 bytes, the 64-bit data at offset 4. */
public final class EpollEvent {
    private EpollEvent() {}

    public static final StructLayout LAYOUT = MemoryLayout.structLayout(
            ValueLayout.JAVA_INT.withName("events"),
            ValueLayout.JAVA_LONG_UNALIGNED.withName("data"));
    public static final long EVENTS = 0;
    public static final long DATA = 4;

    public static int events(MemorySegment array, int index) {
        return array.get(ValueLayout.JAVA_INT, index * LAYOUT.byteSize() + EVENTS);
    }

    public static long data(MemorySegment array, int index) {
        return array.get(ValueLayout.JAVA_LONG_UNALIGNED, index * LAYOUT.byteSize() + DATA);
    }

    public static void set(MemorySegment event, int events, long data) {
        event.set(ValueLayout.JAVA_INT, EVENTS, events);
        event.set(ValueLayout.JAVA_LONG_UNALIGNED, DATA, data);
    }
}
