package dev.flotilla.vmm.event;

import dev.flotilla.vmm.sys.Errno;
import dev.flotilla.vmm.sys.Libc;
import dev.flotilla.vmm.sys.SyscallException;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;

/**
 * A non-blocking eventfd(2): a 64-bit counter the kernel (KVM_IOEVENTFD) or any thread adds to,
 * and one reader drains. {@link #signal()} and {@link #drain()} allocate nothing: each has its
 * own 8-byte buffer, so a signalling thread and the draining thread never share one.
 */
public final class EventFd implements AutoCloseable {

    private final int fd;
    private final Arena arena = Arena.ofShared();
    private final MemorySegment one = arena.allocate(ValueLayout.JAVA_LONG);
    private final MemorySegment sink = arena.allocate(ValueLayout.JAVA_LONG);
    private volatile boolean closed;

    public EventFd() {
        fd = Libc.eventfd(0, Libc.EFD_NONBLOCK | Libc.EFD_CLOEXEC);
        one.set(ValueLayout.JAVA_LONG, 0, 1L);
    }

    public int fd() {
        return fd;
    }

    /**
     * Adds 1 to the counter, waking a poller. Ignored after {@link #close()}. Synchronized with
     * close so a racing signal can never write to the fd number after it was closed (and perhaps
     * reused by another VM) nor touch the freed buffer; uncontended, the monitor costs nanoseconds.
     */
    public synchronized void signal() {
        if (closed) {
            return;
        }
        long rc = Libc.writeOrErrno(fd, one);
        // EAGAIN: the counter is at its maximum, so a reader is due anyway.
        if (rc < 0 && rc != -Errno.EAGAIN) {
            throw new SyscallException("write to eventfd " + fd, (int) -rc);
        }
    }

    /** Resets the counter to 0; returns what it was (0 when nothing was signalled). Call from one thread. */
    public long drain() {
        long rc = Libc.readOrErrno(fd, sink);
        if (rc == -Errno.EAGAIN) {
            return 0;
        }
        if (rc < 0) {
            throw new SyscallException("read from eventfd " + fd, (int) -rc);
        }
        return sink.get(ValueLayout.JAVA_LONG, 0);
    }

    @Override
    public synchronized void close() {
        if (closed) {
            return;
        }
        closed = true;
        Libc.close(fd);
        arena.close();
    }
}
