package dev.flotilla.vmm.sys;

import java.lang.foreign.Arena;
import java.lang.foreign.FunctionDescriptor;
import java.lang.foreign.Linker;
import java.lang.foreign.MemoryLayout;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.StructLayout;
import java.lang.foreign.SymbolLookup;
import java.lang.invoke.MethodHandle;
import java.lang.invoke.VarHandle;

import static java.lang.foreign.ValueLayout.ADDRESS;
import static java.lang.foreign.ValueLayout.JAVA_INT;
import static java.lang.foreign.ValueLayout.JAVA_LONG;

/**
 * The libc calls the engine makes, each linked once per JVM, on first use (a holder class per call
 * with a static final method handle, called with {@code invokeExact}): linking a downcall costs
 * tens of milliseconds on a cold JVM, and a VM's build needs only a few of them, so a first boot
 * pays for what it uses and nothing else. errno is captured by the linker (never read from a later call) and a
 * failure becomes a {@link SyscallException} naming the call. This is the only class that links
 * native functions; no FFM linker type leaves this package.
 *
 * <p>The capture buffer for errno is per thread (allocated once per thread), so calls on the
 * vCPU hot path ({@link #ioctlOrErrno}) allocate nothing.
 */
public final class Libc {
    private Libc() {}

    public static final int O_RDONLY = 0;
    public static final int O_RDWR = 2;
    public static final int O_CLOEXEC = 0x80000;
    public static final int PROT_READ = 1;
    public static final int PROT_WRITE = 2;
    public static final int MAP_SHARED = 1;
    public static final int MAP_PRIVATE = 2;
    public static final int MAP_ANONYMOUS = 0x20;
    public static final int MAP_NORESERVE = 0x4000;
    public static final int MADV_DONTNEED = 4;
    /** Back the range with transparent huge pages where the host allows ("madvise" or "always"). */
    public static final int MADV_HUGEPAGE = 14;
    /** Fault the range in, writable, in one call (Linux 5.14+): cheaper than a fault per page. */
    public static final int MADV_POPULATE_WRITE = 23;
    public static final int EFD_NONBLOCK = 0x800;
    public static final int EFD_CLOEXEC = 0x80000;
    public static final int EPOLL_CLOEXEC = 0x80000;
    public static final int EPOLL_CTL_ADD = 1;
    public static final int EPOLL_CTL_DEL = 2;
    public static final int EPOLL_CTL_MOD = 3;
    public static final int EPOLLIN = 1;
    /** Edge-triggered: report readiness once per change, so a source left unread does not spin the loop. */
    public static final int EPOLLET = 0x80000000;
    public static final int O_NONBLOCK = 0x800;
    /** fallocate(2) modes (linux/falloc.h). */
    public static final int FALLOC_FL_KEEP_SIZE = 0x01;
    public static final int FALLOC_FL_PUNCH_HOLE = 0x02;
    public static final int FALLOC_FL_ZERO_RANGE = 0x10;
    public static final int EOPNOTSUPP = 95;

    private static final Linker LINKER = Linker.nativeLinker();
    private static final SymbolLookup LIBC = LINKER.defaultLookup();
    private static final StructLayout CAPTURE_LAYOUT = Linker.Option.captureStateLayout();
    private static final VarHandle ERRNO = CAPTURE_LAYOUT.varHandle(MemoryLayout.PathElement.groupElement("errno"));
    private static final Linker.Option CAPTURE_ERRNO = Linker.Option.captureCallState("errno");

    private static final ThreadLocal<MemorySegment> CAPTURE =
            ThreadLocal.withInitial(() -> Arena.ofAuto().allocate(CAPTURE_LAYOUT));

    // One holder class per call: the JVM links a handle when its holder is first used.
    private static final class OpenCall {
        static final MethodHandle H = link("open", FunctionDescriptor.of(JAVA_INT, ADDRESS, JAVA_INT), true, Linker.Option.firstVariadicArg(2));
    }
    private static final class CloseCall {
        static final MethodHandle H = link("close", FunctionDescriptor.of(JAVA_INT, JAVA_INT), true);
    }
    private static final class IoctlLongCall {
        static final MethodHandle H = link("ioctl", FunctionDescriptor.of(JAVA_INT, JAVA_INT, JAVA_LONG, JAVA_LONG), true, Linker.Option.firstVariadicArg(2));
    }
    private static final class IoctlPtrCall {
        static final MethodHandle H = link("ioctl", FunctionDescriptor.of(JAVA_INT, JAVA_INT, JAVA_LONG, ADDRESS), true, Linker.Option.firstVariadicArg(2));
    }
    private static final class MmapCall {
        static final MethodHandle H = link("mmap", FunctionDescriptor.of(ADDRESS, ADDRESS, JAVA_LONG, JAVA_INT, JAVA_INT, JAVA_INT, JAVA_LONG), true);
    }
    private static final class MunmapCall {
        static final MethodHandle H = link("munmap", FunctionDescriptor.of(JAVA_INT, ADDRESS, JAVA_LONG), true);
    }
    private static final class MadviseCall {
        static final MethodHandle H = link("madvise", FunctionDescriptor.of(JAVA_INT, ADDRESS, JAVA_LONG, JAVA_INT), true);
    }
    private static final class EventfdCall {
        static final MethodHandle H = link("eventfd", FunctionDescriptor.of(JAVA_INT, JAVA_INT, JAVA_INT), true);
    }
    private static final class ReadCall {
        static final MethodHandle H = link("read", FunctionDescriptor.of(JAVA_LONG, JAVA_INT, ADDRESS, JAVA_LONG), true);
    }
    private static final class WriteCall {
        static final MethodHandle H = link("write", FunctionDescriptor.of(JAVA_LONG, JAVA_INT, ADDRESS, JAVA_LONG), true);
    }
    private static final class EpollCreate1Call {
        static final MethodHandle H = link("epoll_create1", FunctionDescriptor.of(JAVA_INT, JAVA_INT), true);
    }
    private static final class EpollCtlCall {
        static final MethodHandle H = link("epoll_ctl", FunctionDescriptor.of(JAVA_INT, JAVA_INT, JAVA_INT, JAVA_INT, ADDRESS), true);
    }
    private static final class EpollWaitCall {
        static final MethodHandle H = link("epoll_wait", FunctionDescriptor.of(JAVA_INT, JAVA_INT, ADDRESS, JAVA_INT, JAVA_INT), true);
    }
    private static final class FallocateCall {
        static final MethodHandle H = link("fallocate", FunctionDescriptor.of(JAVA_INT, JAVA_INT, JAVA_INT, JAVA_LONG, JAVA_LONG), true);
    }
    private static final class WritevCall {
        static final MethodHandle H = link("writev", FunctionDescriptor.of(JAVA_LONG, JAVA_INT, ADDRESS, JAVA_INT), true);
    }
    private static final class PreadvCall {
        static final MethodHandle H = link("preadv", FunctionDescriptor.of(JAVA_LONG, JAVA_INT, ADDRESS, JAVA_INT, JAVA_LONG), true);
    }
    private static final class PwritevCall {
        static final MethodHandle H = link("pwritev", FunctionDescriptor.of(JAVA_LONG, JAVA_INT, ADDRESS, JAVA_INT, JAVA_LONG), true);
    }
    private static final class Preadv2Call {
        static final MethodHandle H = link("preadv2", FunctionDescriptor.of(JAVA_LONG, JAVA_INT, ADDRESS, JAVA_INT, JAVA_LONG, JAVA_INT), true);
    }
    private static final class MincoreCall {
        static final MethodHandle H = link("mincore", FunctionDescriptor.of(JAVA_INT, ADDRESS, JAVA_LONG, ADDRESS), true);
    }
    private static final class StrerrorCall {
        static final MethodHandle H = link("strerror", FunctionDescriptor.of(ADDRESS, JAVA_INT), false);
    }
    // pthread functions return the error number instead of setting errno.
    private static final class PthreadSelfCall {
        static final MethodHandle H = link("pthread_self", FunctionDescriptor.of(JAVA_LONG), false);
    }
    private static final class PthreadKillCall {
        static final MethodHandle H = link("pthread_kill", FunctionDescriptor.of(JAVA_INT, JAVA_LONG, JAVA_INT), false);
    }
    private static final class PthreadSigmaskCall {
        static final MethodHandle H = link("pthread_sigmask", FunctionDescriptor.of(JAVA_INT, JAVA_INT, ADDRESS, ADDRESS), false);
    }
    private static final class SigtimedwaitCall {
        static final MethodHandle H = link("sigtimedwait", FunctionDescriptor.of(JAVA_INT, ADDRESS, ADDRESS, ADDRESS), true);
    }

    private static MethodHandle link(String name, FunctionDescriptor descriptor, boolean captureErrno,
                                     Linker.Option... extra) {
        MemorySegment symbol = LIBC.find(name)
                .orElseThrow(() -> new UnsatisfiedLinkError("libc has no symbol " + name));
        Linker.Option[] options;
        if (captureErrno) {
            options = new Linker.Option[extra.length + 1];
            options[0] = CAPTURE_ERRNO;
            System.arraycopy(extra, 0, options, 1, extra.length);
        } else {
            options = extra;
        }
        return LINKER.downcallHandle(symbol, descriptor, options);
    }

    private static int errno(MemorySegment capture) {
        return (int) ERRNO.get(capture, 0L);
    }

    private static RuntimeException unexpected(String call, Throwable t) {
        if (t instanceof RuntimeException re) {
            return re;
        }
        if (t instanceof Error e) {
            throw e;
        }
        return new IllegalStateException(call + " threw " + t, t);
    }

    /** {@code open(2)}; returns the fd. */
    public static int open(String path, int flags) {
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment capture = CAPTURE.get();
            int fd = (int) OpenCall.H.invokeExact(capture, arena.allocateFrom(path), flags);
            if (fd < 0) {
                throw new SyscallException("open(" + path + ")", errno(capture));
            }
            return fd;
        } catch (Throwable t) {
            throw unexpected("open", t);
        }
    }

    /** {@code close(2)}. */
    public static void close(int fd) {
        try {
            MemorySegment capture = CAPTURE.get();
            int rc = (int) CloseCall.H.invokeExact(capture, fd);
            if (rc < 0) {
                throw new SyscallException("close(" + fd + ")", errno(capture));
            }
        } catch (Throwable t) {
            throw unexpected("close", t);
        }
    }

    /**
     * {@code ioctl(fd, request, 0)}, for requests without an argument; {@code name} names the
     * request in errors. The 0 matters: KVM rejects argument-less requests with EINVAL when the
     * argument register holds anything else.
     */
    public static int ioctl(int fd, long request, String name) {
        try {
            MemorySegment capture = CAPTURE.get();
            int rc = (int) IoctlLongCall.H.invokeExact(capture, fd, request, 0L);
            if (rc < 0) {
                throw new SyscallException("ioctl(" + name + ")", errno(capture));
            }
            return rc;
        } catch (Throwable t) {
            throw unexpected("ioctl", t);
        }
    }

    /** {@code ioctl(fd, request, arg)} with an integer argument. */
    public static int ioctl(int fd, long request, long arg, String name) {
        try {
            MemorySegment capture = CAPTURE.get();
            int rc = (int) IoctlLongCall.H.invokeExact(capture, fd, request, arg);
            if (rc < 0) {
                throw new SyscallException("ioctl(" + name + ")", errno(capture));
            }
            return rc;
        } catch (Throwable t) {
            throw unexpected("ioctl", t);
        }
    }

    /** {@code ioctl(fd, request, &struct)}. */
    public static int ioctl(int fd, long request, MemorySegment arg, String name) {
        int rc = ioctlOrErrno(fd, request, arg);
        if (rc < 0) {
            throw new SyscallException("ioctl(" + name + ")", -rc);
        }
        return rc;
    }

    /**
     * {@code ioctl(fd, request, arg)} returning the result, or minus errno on failure, without
     * throwing or allocating: for KVM_RUN, where EINTR is an expected outcome.
     */
    public static int ioctlOrErrno(int fd, long request, MemorySegment arg) {
        try {
            MemorySegment capture = CAPTURE.get();
            int rc = (int) IoctlPtrCall.H.invokeExact(capture, fd, request, arg);
            return rc < 0 ? -errno(capture) : rc;
        } catch (Throwable t) {
            throw unexpected("ioctl", t);
        }
    }

    /** {@code ioctl(fd, request, 0)}, returning minus errno on failure (KVM_RUN). */
    public static int ioctlOrErrno(int fd, long request) {
        try {
            MemorySegment capture = CAPTURE.get();
            int rc = (int) IoctlLongCall.H.invokeExact(capture, fd, request, 0L);
            return rc < 0 ? -errno(capture) : rc;
        } catch (Throwable t) {
            throw unexpected("ioctl", t);
        }
    }

    /**
     * Anonymous private memory of {@code length} bytes with MAP_NORESERVE: pages are only backed
     * when first touched, so a guest's RAM costs what the guest uses. Release with {@link #munmap}.
     */
    public static MemorySegment mmapAnonymous(long length) {
        return mmap(length, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0,
                "mmap(anonymous, " + length + " bytes)");
    }

    /** A shared mapping of {@code length} bytes of {@code fd} (the vCPU's kvm_run area). */
    public static MemorySegment mmapShared(int fd, long length) {
        return mmap(length, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0, "mmap(fd " + fd + ", " + length + " bytes)");
    }

    private static MemorySegment mmap(long length, int prot, int flags, int fd, long offset, String call) {
        if (length <= 0) {
            throw new IllegalArgumentException(call + ": length must be positive");
        }
        try {
            MemorySegment capture = CAPTURE.get();
            MemorySegment address = (MemorySegment) MmapCall.H.invokeExact(capture, MemorySegment.NULL, length, prot, flags, fd, offset);
            if (address.address() == -1L) {
                throw new SyscallException(call, errno(capture));
            }
            return address.reinterpret(length);
        } catch (Throwable t) {
            throw unexpected("mmap", t);
        }
    }

    /** {@code munmap(2)} of a mapping returned by this class. */
    public static void munmap(MemorySegment mapping) {
        try {
            MemorySegment capture = CAPTURE.get();
            int rc = (int) MunmapCall.H.invokeExact(capture, mapping, mapping.byteSize());
            if (rc < 0) {
                throw new SyscallException("munmap(" + mapping.byteSize() + " bytes)", errno(capture));
            }
        } catch (Throwable t) {
            throw unexpected("munmap", t);
        }
    }

    /** {@code madvise(2)} over the whole of {@code range}. */
    public static void madvise(MemorySegment range, int advice) {
        try {
            MemorySegment capture = CAPTURE.get();
            int rc = (int) MadviseCall.H.invokeExact(capture, range, range.byteSize(), advice);
            if (rc < 0) {
                throw new SyscallException("madvise(" + advice + ")", errno(capture));
            }
        } catch (Throwable t) {
            throw unexpected("madvise", t);
        }
    }

    /** {@code eventfd(2)}; returns the fd. */
    public static int eventfd(int initial, int flags) {
        try {
            MemorySegment capture = CAPTURE.get();
            int fd = (int) EventfdCall.H.invokeExact(capture, initial, flags);
            if (fd < 0) {
                throw new SyscallException("eventfd", errno(capture));
            }
            return fd;
        } catch (Throwable t) {
            throw unexpected("eventfd", t);
        }
    }

    /** {@code read(2)} into {@code buffer}; returns bytes read, or minus errno. */
    public static long readOrErrno(int fd, MemorySegment buffer) {
        try {
            MemorySegment capture = CAPTURE.get();
            long n = (long) ReadCall.H.invokeExact(capture, fd, buffer, buffer.byteSize());
            return n < 0 ? -errno(capture) : n;
        } catch (Throwable t) {
            throw unexpected("read", t);
        }
    }

    /** {@code write(2)} of {@code buffer}; returns bytes written, or minus errno. */
    public static long writeOrErrno(int fd, MemorySegment buffer) {
        try {
            MemorySegment capture = CAPTURE.get();
            long n = (long) WriteCall.H.invokeExact(capture, fd, buffer, buffer.byteSize());
            return n < 0 ? -errno(capture) : n;
        } catch (Throwable t) {
            throw unexpected("write", t);
        }
    }

    /**
     * {@code writev(2)} of {@code count} {@link Iovec} entries from {@code iovecs}; returns bytes
     * written, or minus errno. Allocates nothing (the iovec array is the caller's, reused).
     */
    public static long writevOrErrno(int fd, MemorySegment iovecs, int count) {
        try {
            MemorySegment capture = CAPTURE.get();
            long n = (long) WritevCall.H.invokeExact(capture, fd, iovecs, count);
            return n < 0 ? -errno(capture) : n;
        } catch (Throwable t) {
            throw unexpected("writev", t);
        }
    }

    /**
     * {@code preadv(2)}: reads at file {@code offset} into {@code count} {@link Iovec} entries of
     * {@code iovecs}; returns bytes read (0 at end of file), or minus errno. Allocates nothing.
     */
    public static long preadvOrErrno(int fd, MemorySegment iovecs, int count, long offset) {
        try {
            MemorySegment capture = CAPTURE.get();
            long n = (long) PreadvCall.H.invokeExact(capture, fd, iovecs, count, offset);
            return n < 0 ? -errno(capture) : n;
        } catch (Throwable t) {
            throw unexpected("preadv", t);
        }
    }

    /** preadv2 flag: fail with EAGAIN instead of waiting for the device (data not in the page cache). */
    public static final int RWF_NOWAIT = 0x08;

    /** {@code preadv2(2)}: {@link #preadvOrErrno} with flags (e.g. {@link #RWF_NOWAIT}). Allocates nothing. */
    public static long preadv2OrErrno(int fd, MemorySegment iovecs, int count, long offset, int flags) {
        try {
            MemorySegment capture = CAPTURE.get();
            long n = (long) Preadv2Call.H.invokeExact(capture, fd, iovecs, count, offset, flags);
            return n < 0 ? -errno(capture) : n;
        } catch (Throwable t) {
            throw unexpected("preadv2", t);
        }
    }

    /** {@code pwritev(2)}: as {@link #preadvOrErrno}, writing. */
    public static long pwritevOrErrno(int fd, MemorySegment iovecs, int count, long offset) {
        try {
            MemorySegment capture = CAPTURE.get();
            long n = (long) PwritevCall.H.invokeExact(capture, fd, iovecs, count, offset);
            return n < 0 ? -errno(capture) : n;
        } catch (Throwable t) {
            throw unexpected("pwritev", t);
        }
    }

    /**
     * {@code mincore(2)}: one byte per page of {@code range} (page-aligned) into {@code vector},
     * bit 0 set when the page is resident in host RAM.
     */
    public static void mincore(MemorySegment range, MemorySegment vector) {
        try {
            MemorySegment capture = CAPTURE.get();
            int rc = (int) MincoreCall.H.invokeExact(capture, range, range.byteSize(), vector);
            if (rc < 0) {
                throw new SyscallException("mincore(" + range.byteSize() + " bytes)", errno(capture));
            }
        } catch (Throwable t) {
            throw unexpected("mincore", t);
        }
    }

    /** {@code fallocate(2)}: 0 on success, or minus errno (EOPNOTSUPP when the file system lacks the mode). */
    public static int fallocateOrErrno(int fd, int mode, long offset, long length) {
        try {
            MemorySegment capture = CAPTURE.get();
            int rc = (int) FallocateCall.H.invokeExact(capture, fd, mode, offset, length);
            return rc < 0 ? -errno(capture) : 0;
        } catch (Throwable t) {
            throw unexpected("fallocate", t);
        }
    }

    /** {@code epoll_create1(2)}. */
    public static int epollCreate1(int flags) {
        try {
            MemorySegment capture = CAPTURE.get();
            int fd = (int) EpollCreate1Call.H.invokeExact(capture, flags);
            if (fd < 0) {
                throw new SyscallException("epoll_create1", errno(capture));
            }
            return fd;
        } catch (Throwable t) {
            throw unexpected("epoll_create1", t);
        }
    }

    /** {@code epoll_ctl(2)}; {@code event} is an {@link EpollEvent#LAYOUT} segment (or NULL for DEL). */
    public static void epollCtl(int epfd, int op, int fd, MemorySegment event) {
        try {
            MemorySegment capture = CAPTURE.get();
            int rc = (int) EpollCtlCall.H.invokeExact(capture, epfd, op, fd, event);
            if (rc < 0) {
                throw new SyscallException("epoll_ctl(op " + op + ", fd " + fd + ")", errno(capture));
            }
        } catch (Throwable t) {
            throw unexpected("epoll_ctl", t);
        }
    }

    /** {@code epoll_wait(2)}; returns the number of ready events, or minus errno (EINTR). */
    public static int epollWaitOrErrno(int epfd, MemorySegment events, int maxEvents, int timeoutMillis) {
        try {
            MemorySegment capture = CAPTURE.get();
            int n = (int) EpollWaitCall.H.invokeExact(capture, epfd, events, maxEvents, timeoutMillis);
            return n < 0 ? -errno(capture) : n;
        } catch (Throwable t) {
            throw unexpected("epoll_wait", t);
        }
    }

    /** {@code pthread_self(3)}: the calling thread's pthread_t. */
    public static long pthreadSelf() {
        try {
            return (long) PthreadSelfCall.H.invokeExact();
        } catch (Throwable t) {
            throw unexpected("pthread_self", t);
        }
    }

    /** {@code pthread_kill(3)}: sends {@code signal} to one thread of this process. */
    public static void pthreadKill(long thread, int signal) {
        try {
            int rc = (int) PthreadKillCall.H.invokeExact(thread, signal);
            if (rc != 0) {
                throw new SyscallException("pthread_kill(signal " + signal + ")", rc);
            }
        } catch (Throwable t) {
            throw unexpected("pthread_kill", t);
        }
    }

    /** {@code pthread_sigmask(3)}; {@code set} or {@code old} may be {@link MemorySegment#NULL}. */
    public static void pthreadSigmask(int how, MemorySegment set, MemorySegment old) {
        try {
            int rc = (int) PthreadSigmaskCall.H.invokeExact(how, set, old);
            if (rc != 0) {
                throw new SyscallException("pthread_sigmask(" + how + ")", rc);
            }
        } catch (Throwable t) {
            throw unexpected("pthread_sigmask", t);
        }
    }

    /**
     * {@code sigtimedwait(2)}: takes one pending signal of {@code set} off the calling thread;
     * returns the signal number, or minus errno (EAGAIN when none was pending within the timeout).
     */
    public static int sigtimedwaitOrErrno(MemorySegment set, MemorySegment timespec) {
        try {
            MemorySegment capture = CAPTURE.get();
            int rc = (int) SigtimedwaitCall.H.invokeExact(capture, set, MemorySegment.NULL, timespec);
            return rc < 0 ? -errno(capture) : rc;
        } catch (Throwable t) {
            throw unexpected("sigtimedwait", t);
        }
    }

    /** glibc's pthread_attr_t on x86_64 is 56 bytes. */
    private static final long PTHREAD_ATTR_BYTES = 64;

    private static final class ThreadStackCalls {
        static final MethodHandle GETATTR_NP = link("pthread_getattr_np",
                FunctionDescriptor.of(JAVA_INT, JAVA_LONG, ADDRESS), false);
        static final MethodHandle ATTR_GETSTACK = link("pthread_attr_getstack",
                FunctionDescriptor.of(JAVA_INT, ADDRESS, ADDRESS, ADDRESS), false);
        static final MethodHandle ATTR_DESTROY = link("pthread_attr_destroy",
                FunctionDescriptor.of(JAVA_INT, ADDRESS), false);
    }

    /** The calling thread's stack as {lowest address, size in bytes} ({@code pthread_getattr_np}). */
    public static long[] currentThreadStack() {
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment attr = arena.allocate(PTHREAD_ATTR_BYTES, 8);
            MemorySegment addr = arena.allocate(JAVA_LONG);
            MemorySegment size = arena.allocate(JAVA_LONG);
            int rc = (int) ThreadStackCalls.GETATTR_NP.invokeExact(pthreadSelf(), attr);
            if (rc != 0) {
                throw new SyscallException("pthread_getattr_np", rc);
            }
            try {
                rc = (int) ThreadStackCalls.ATTR_GETSTACK.invokeExact(attr, addr, size);
                if (rc != 0) {
                    throw new SyscallException("pthread_attr_getstack", rc);
                }
            } finally {
                int ignored = (int) ThreadStackCalls.ATTR_DESTROY.invokeExact(attr);
            }
            return new long[]{addr.get(JAVA_LONG, 0), size.get(JAVA_LONG, 0)};
        } catch (Throwable t) {
            throw unexpected("pthread_getattr_np", t);
        }
    }

    public static final int RLIMIT_NOFILE = 7;

    /** Linked on first use only: most processes never change a resource limit. */
    private static final class Rlimits {
        static final MethodHandle GETRLIMIT = link("getrlimit", FunctionDescriptor.of(JAVA_INT, JAVA_INT, ADDRESS), true);
        static final MethodHandle SETRLIMIT = link("setrlimit", FunctionDescriptor.of(JAVA_INT, JAVA_INT, ADDRESS), true);
    }

    /** {@code getrlimit(2)}: {soft, hard} for {@code resource} (RLIM_INFINITY is -1). */
    public static long[] getrlimit(int resource) {
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment capture = CAPTURE.get();
            MemorySegment limit = arena.allocate(16, 8);
            int rc = (int) Rlimits.GETRLIMIT.invokeExact(capture, resource, limit);
            if (rc < 0) {
                throw new SyscallException("getrlimit(" + resource + ")", errno(capture));
            }
            return new long[]{limit.get(JAVA_LONG, 0), limit.get(JAVA_LONG, 8)};
        } catch (Throwable t) {
            throw unexpected("getrlimit", t);
        }
    }

    /** {@code setrlimit(2)}. */
    public static void setrlimit(int resource, long soft, long hard) {
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment capture = CAPTURE.get();
            MemorySegment limit = arena.allocate(16, 8);
            limit.set(JAVA_LONG, 0, soft);
            limit.set(JAVA_LONG, 8, hard);
            int rc = (int) Rlimits.SETRLIMIT.invokeExact(capture, resource, limit);
            if (rc < 0) {
                throw new SyscallException("setrlimit(%d, %d, %d)".formatted(resource, soft, hard), errno(capture));
            }
        } catch (Throwable t) {
            throw unexpected("setrlimit", t);
        }
    }

    /** The C library's text for an errno value. */
    public static String strerror(int errno) {
        try {
            MemorySegment text = (MemorySegment) StrerrorCall.H.invokeExact(errno);
            if (text.equals(MemorySegment.NULL)) {
                return "unknown error";
            }
            return text.reinterpret(1024).getString(0);
        } catch (Throwable t) {
            return "unknown error";
        }
    }
}
