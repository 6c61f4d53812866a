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
 * The libc calls the engine makes, linked once as static final method handles and called with
 * {@code invokeExact}. errno is captured by the linker (never read from a later call) and a
 * failure becomes a {@link SyscallException} naming the call. This is the only class that links
 * native functions; no FFM linker type leaves this package.
 *
 * <p>The capture buffer for errno is per thread (allocated once per thread), so calls on the
 * vCPU hot path ({@link #ioctlOrErrno}) allocate nothing.
 */
public final class Libc {
    private Libc() {}

    public static final int O_RDWR = 2;
    public static final int O_CLOEXEC = 0x80000;
    public static final int PROT_READ = 1;
    public static final int PROT_WRITE = 2;
    public static final int MAP_SHARED = 1;
    public static final int MAP_PRIVATE = 2;
    public static final int MAP_ANONYMOUS = 0x20;
    public static final int MAP_NORESERVE = 0x4000;
    public static final int MADV_DONTNEED = 4;
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

    private static final MethodHandle OPEN = link("open", FunctionDescriptor.of(JAVA_INT, ADDRESS, JAVA_INT), true,
            Linker.Option.firstVariadicArg(2));
    private static final MethodHandle CLOSE = link("close", FunctionDescriptor.of(JAVA_INT, JAVA_INT), true);
    private static final MethodHandle IOCTL_LONG = link("ioctl",
            FunctionDescriptor.of(JAVA_INT, JAVA_INT, JAVA_LONG, JAVA_LONG), true, Linker.Option.firstVariadicArg(2));
    private static final MethodHandle IOCTL_PTR = link("ioctl",
            FunctionDescriptor.of(JAVA_INT, JAVA_INT, JAVA_LONG, ADDRESS), true, Linker.Option.firstVariadicArg(2));
    private static final MethodHandle MMAP = link("mmap",
            FunctionDescriptor.of(ADDRESS, ADDRESS, JAVA_LONG, JAVA_INT, JAVA_INT, JAVA_INT, JAVA_LONG), true);
    private static final MethodHandle MUNMAP = link("munmap", FunctionDescriptor.of(JAVA_INT, ADDRESS, JAVA_LONG), true);
    private static final MethodHandle MADVISE = link("madvise",
            FunctionDescriptor.of(JAVA_INT, ADDRESS, JAVA_LONG, JAVA_INT), true);
    private static final MethodHandle EVENTFD = link("eventfd", FunctionDescriptor.of(JAVA_INT, JAVA_INT, JAVA_INT), true);
    private static final MethodHandle READ = link("read", FunctionDescriptor.of(JAVA_LONG, JAVA_INT, ADDRESS, JAVA_LONG), true);
    private static final MethodHandle WRITE = link("write", FunctionDescriptor.of(JAVA_LONG, JAVA_INT, ADDRESS, JAVA_LONG), true);
    private static final MethodHandle WRITEV = link("writev", FunctionDescriptor.of(JAVA_LONG, JAVA_INT, ADDRESS, JAVA_INT), true);
    private static final MethodHandle MINCORE = link("mincore",
            FunctionDescriptor.of(JAVA_INT, ADDRESS, JAVA_LONG, ADDRESS), true);
    private static final MethodHandle FALLOCATE = link("fallocate",
            FunctionDescriptor.of(JAVA_INT, JAVA_INT, JAVA_INT, JAVA_LONG, JAVA_LONG), true);
    private static final MethodHandle EPOLL_CREATE1 = link("epoll_create1", FunctionDescriptor.of(JAVA_INT, JAVA_INT), true);
    private static final MethodHandle EPOLL_CTL = link("epoll_ctl",
            FunctionDescriptor.of(JAVA_INT, JAVA_INT, JAVA_INT, JAVA_INT, ADDRESS), true);
    private static final MethodHandle EPOLL_WAIT = link("epoll_wait",
            FunctionDescriptor.of(JAVA_INT, JAVA_INT, ADDRESS, JAVA_INT, JAVA_INT), true);
    private static final MethodHandle STRERROR = link("strerror", FunctionDescriptor.of(ADDRESS, JAVA_INT), false);
    // pthread functions return the error number instead of setting errno.
    private static final MethodHandle PTHREAD_SELF = link("pthread_self", FunctionDescriptor.of(JAVA_LONG), false);
    private static final MethodHandle PTHREAD_KILL = link("pthread_kill",
            FunctionDescriptor.of(JAVA_INT, JAVA_LONG, JAVA_INT), false);
    private static final MethodHandle PTHREAD_SIGMASK = link("pthread_sigmask",
            FunctionDescriptor.of(JAVA_INT, JAVA_INT, ADDRESS, ADDRESS), false);
    private static final MethodHandle SIGTIMEDWAIT = link("sigtimedwait",
            FunctionDescriptor.of(JAVA_INT, ADDRESS, ADDRESS, ADDRESS), true);

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
            int fd = (int) OPEN.invokeExact(capture, arena.allocateFrom(path), flags);
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
            int rc = (int) CLOSE.invokeExact(capture, fd);
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
            int rc = (int) IOCTL_LONG.invokeExact(capture, fd, request, 0L);
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
            int rc = (int) IOCTL_LONG.invokeExact(capture, fd, request, arg);
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
            int rc = (int) IOCTL_PTR.invokeExact(capture, fd, request, arg);
            return rc < 0 ? -errno(capture) : rc;
        } catch (Throwable t) {
            throw unexpected("ioctl", t);
        }
    }

    /** {@code ioctl(fd, request, 0)}, returning minus errno on failure (KVM_RUN). */
    public static int ioctlOrErrno(int fd, long request) {
        try {
            MemorySegment capture = CAPTURE.get();
            int rc = (int) IOCTL_LONG.invokeExact(capture, fd, request, 0L);
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
            MemorySegment address = (MemorySegment) MMAP.invokeExact(capture, MemorySegment.NULL, length, prot, flags, fd, offset);
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
            int rc = (int) MUNMAP.invokeExact(capture, mapping, mapping.byteSize());
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
            int rc = (int) MADVISE.invokeExact(capture, range, range.byteSize(), advice);
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
            int fd = (int) EVENTFD.invokeExact(capture, initial, flags);
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
            long n = (long) READ.invokeExact(capture, fd, buffer, buffer.byteSize());
            return n < 0 ? -errno(capture) : n;
        } catch (Throwable t) {
            throw unexpected("read", t);
        }
    }

    /** {@code write(2)} of {@code buffer}; returns bytes written, or minus errno. */
    public static long writeOrErrno(int fd, MemorySegment buffer) {
        try {
            MemorySegment capture = CAPTURE.get();
            long n = (long) WRITE.invokeExact(capture, fd, buffer, buffer.byteSize());
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
            long n = (long) WRITEV.invokeExact(capture, fd, iovecs, count);
            return n < 0 ? -errno(capture) : n;
        } catch (Throwable t) {
            throw unexpected("writev", t);
        }
    }

    /**
     * {@code mincore(2)}: one byte per page of {@code range} (page-aligned) into {@code vector},
     * bit 0 set when the page is resident in host RAM.
     */
    public static void mincore(MemorySegment range, MemorySegment vector) {
        try {
            MemorySegment capture = CAPTURE.get();
            int rc = (int) MINCORE.invokeExact(capture, range, range.byteSize(), vector);
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
            int rc = (int) FALLOCATE.invokeExact(capture, fd, mode, offset, length);
            return rc < 0 ? -errno(capture) : 0;
        } catch (Throwable t) {
            throw unexpected("fallocate", t);
        }
    }

    /** {@code epoll_create1(2)}. */
    public static int epollCreate1(int flags) {
        try {
            MemorySegment capture = CAPTURE.get();
            int fd = (int) EPOLL_CREATE1.invokeExact(capture, flags);
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
            int rc = (int) EPOLL_CTL.invokeExact(capture, epfd, op, fd, event);
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
            int n = (int) EPOLL_WAIT.invokeExact(capture, epfd, events, maxEvents, timeoutMillis);
            return n < 0 ? -errno(capture) : n;
        } catch (Throwable t) {
            throw unexpected("epoll_wait", t);
        }
    }

    /** {@code pthread_self(3)}: the calling thread's pthread_t. */
    public static long pthreadSelf() {
        try {
            return (long) PTHREAD_SELF.invokeExact();
        } catch (Throwable t) {
            throw unexpected("pthread_self", t);
        }
    }

    /** {@code pthread_kill(3)}: sends {@code signal} to one thread of this process. */
    public static void pthreadKill(long thread, int signal) {
        try {
            int rc = (int) PTHREAD_KILL.invokeExact(thread, signal);
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
            int rc = (int) PTHREAD_SIGMASK.invokeExact(how, set, old);
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
            int rc = (int) SIGTIMEDWAIT.invokeExact(capture, set, MemorySegment.NULL, timespec);
            return rc < 0 ? -errno(capture) : rc;
        } catch (Throwable t) {
            throw unexpected("sigtimedwait", t);
        }
    }

    /** The C library's text for an errno value. */
    public static String strerror(int errno) {
        try {
            MemorySegment text = (MemorySegment) STRERROR.invokeExact(errno);
            if (text.equals(MemorySegment.NULL)) {
                return "unknown error";
            }
            return text.reinterpret(1024).getString(0);
        } catch (Throwable t) {
            return "unknown error";
        }
    }
}
