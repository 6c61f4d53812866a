package dev.flotilla.vmm.sys;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.charset.StandardCharsets;

/**
 * Gives back the stack pages a long-lived, shallow thread (a vCPU thread) touched once and will
 * not use again. HotSpot touches ("bangs") a shadow zone of 20 pages below the stack pointer
 * whenever it calls into Java from the VM, thread start included: 80 KiB resident per thread,
 * forever, which for a thousand vCPU threads is most of their memory. Pages below the stack
 * pointer hold nothing live; after {@code MADV_DONTNEED} they read as zero and come back when
 * touched again, exactly like never-touched stack.
 */
public final class ThreadStack {
    private ThreadStack() {}

    /** Pages within this distance below the stack pointer are kept (the calls that follow need them). */
    static final long KEEP_BELOW_SP = 8 * 1024;
    private static final long PAGE = 4096;

    /**
     * On the calling thread: releases its stack pages from the bottom of the stack up to
     * {@link #KEEP_BELOW_SP} below the current stack pointer; returns the bytes released (0 when
     * the stack pointer cannot be read, e.g. /proc/thread-self/syscall is not available).
     */
    public static long releaseUnusedPages() {
        long sp = stackPointer();
        if (sp <= 0) {
            return 0;
        }
        long[] stack = Libc.currentThreadStack();
        long low = (stack[0] + PAGE - 1) & -PAGE;
        long high = stack[0] + stack[1];
        long end = (sp - KEEP_BELOW_SP) & -PAGE;
        if (sp <= low || sp > high || end <= low) {
            return 0;
        }
        Libc.madvise(MemorySegment.ofAddress(low).reinterpret(end - low), Libc.MADV_DONTNEED);
        return end - low;
    }

    /**
     * The calling thread's user stack pointer, from /proc/thread-self/syscall, which shows the
     * registers of the system call in progress (the very read that fetches it): "NR args... sp pc".
     * That read runs deeper in the stack than the caller, so everything live lies above it.
     * Read with plain open/read into a call-scoped buffer, not java.nio: NIO would give the
     * thread a cached direct buffer (about 10 KiB native) and a 4 KiB buffer array for life,
     * which on a thousand vCPU threads cost more than the stack pages released here.
     */
    static long stackPointer() {
        int fd;
        try {
            fd = Libc.open("/proc/thread-self/syscall", Libc.O_RDONLY | Libc.O_CLOEXEC);
        } catch (SyscallException e) {
            return -1;
        }
        try (Arena call = Arena.ofConfined()) {
            MemorySegment buffer = call.allocate(SYSCALL_LINE_MAX);
            long n = Libc.readOrErrno(fd, buffer);
            return n <= 0 ? -1 : parseStackPointer(buffer.asSlice(0, n).toArray(ValueLayout.JAVA_BYTE));
        } finally {
            Libc.close(fd);
        }
    }

    /** "NR arg1 ... arg6 sp pc" fits easily: 8 fields of at most 18 characters. */
    private static final int SYSCALL_LINE_MAX = 256;

    /** The stack pointer field (last but one) of a /proc/PID/syscall line, or -1 if it has none. */
    static long parseStackPointer(byte[] line) {
        String[] fields = new String(line, StandardCharsets.US_ASCII).strip().split("\\s+");
        if (fields.length < 3) {
            return -1;
        }
        try {
            return Long.parseUnsignedLong(fields[fields.length - 2].replaceFirst("^0x", ""), 16);
        } catch (NumberFormatException e) {
            return -1;
        }
    }
}
