package dev.flotilla.vmm.sys;

import java.lang.foreign.MemoryLayout;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.StructLayout;
import java.lang.foreign.ValueLayout;

/** {@code struct iovec} (sys/uio.h): a base pointer and a length, 16 bytes on x86_64. */
public final class Iovec {
    private Iovec() {}

    public static final StructLayout LAYOUT = MemoryLayout.structLayout(
            ValueLayout.ADDRESS.withName("iov_base"),
            ValueLayout.JAVA_LONG.withName("iov_len"));
    public static final long BASE = 0;
    public static final long LENGTH = 8;

    /** Sets entry {@code index} of an iovec array to {@code buffer} (a native segment). */
    public static void set(MemorySegment array, int index, MemorySegment buffer) {
        long at = index * LAYOUT.byteSize();
        array.set(ValueLayout.JAVA_LONG, at + BASE, buffer.address());
        array.set(ValueLayout.JAVA_LONG, at + LENGTH, buffer.byteSize());
    }

    /** Sets entry {@code index} to {@code length} bytes at host address {@code base}. */
    public static void set(MemorySegment array, int index, long base, long length) {
        long at = index * LAYOUT.byteSize();
        array.set(ValueLayout.JAVA_LONG, at + BASE, base);
        array.set(ValueLayout.JAVA_LONG, at + LENGTH, length);
    }

    public static long base(MemorySegment array, int index) {
        return array.get(ValueLayout.JAVA_LONG, index * LAYOUT.byteSize() + BASE);
    }

    public static long length(MemorySegment array, int index) {
        return array.get(ValueLayout.JAVA_LONG, index * LAYOUT.byteSize() + LENGTH);
    }
}
