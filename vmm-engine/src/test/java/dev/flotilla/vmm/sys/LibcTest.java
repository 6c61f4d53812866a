package dev.flotilla.vmm.sys;

import org.junit.jupiter.api.Test;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

class LibcTest {

    @Test
    void open_missingPath_throwsWithCallAndErrnoText() {
        SyscallException e = assertThrows(SyscallException.class, () -> Libc.open("/nonexistent/flotilla", Libc.O_RDWR));
        assertEquals(Errno.ENOENT, e.errno());
        assertTrue(e.getMessage().contains("open(/nonexistent/flotilla)"), e.getMessage());
        assertTrue(e.getMessage().contains("No such file or directory"), e.getMessage());
    }

    @Test
    void ioctl_onNonKvmFd_throwsNamingTheRequest() {
        int fd = Libc.eventfd(0, Libc.EFD_CLOEXEC);
        try {
            SyscallException e = assertThrows(SyscallException.class,
                    () -> Libc.ioctl(fd, KvmAbi.KVM_GET_API_VERSION, "KVM_GET_API_VERSION"));
            assertTrue(e.getMessage().startsWith("ioctl(KVM_GET_API_VERSION) failed: errno"), e.getMessage());
        } finally {
            Libc.close(fd);
        }
    }

    @Test
    void eventfd_writeThenRead_returnsSum() {
        int fd = Libc.eventfd(0, Libc.EFD_CLOEXEC | Libc.EFD_NONBLOCK);
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment buf = arena.allocate(8);
            buf.set(ValueLayout.JAVA_LONG, 0, 3);
            assertEquals(8, Libc.writeOrErrno(fd, buf));
            assertEquals(8, Libc.writeOrErrno(fd, buf));
            buf.set(ValueLayout.JAVA_LONG, 0, 0);
            assertEquals(8, Libc.readOrErrno(fd, buf));
            assertEquals(6, buf.get(ValueLayout.JAVA_LONG, 0));
            assertEquals(-Errno.EAGAIN, Libc.readOrErrno(fd, buf));
        } finally {
            Libc.close(fd);
        }
    }

    @Test
    void epoll_readyEventfd_isReportedWithItsData() {
        int ep = Libc.epollCreate1(Libc.EPOLL_CLOEXEC);
        int fd = Libc.eventfd(1, Libc.EFD_CLOEXEC);
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment ev = arena.allocate(EpollEvent.LAYOUT);
            EpollEvent.set(ev, Libc.EPOLLIN, 0x1234_5678_9ABCL);
            Libc.epollCtl(ep, Libc.EPOLL_CTL_ADD, fd, ev);
            MemorySegment out = arena.allocate(EpollEvent.LAYOUT, 4);
            assertEquals(1, Libc.epollWaitOrErrno(ep, out, 4, 1000));
            assertEquals(0x1234_5678_9ABCL, EpollEvent.data(out, 0));
            assertEquals(Libc.EPOLLIN, EpollEvent.events(out, 0) & Libc.EPOLLIN);
        } finally {
            Libc.close(fd);
            Libc.close(ep);
        }
    }

    @Test
    void mmapAnonymous_writeReadUnmap_roundTrips() {
        MemorySegment m = Libc.mmapAnonymous(1 << 20);
        m.set(ValueLayout.JAVA_LONG, (1 << 20) - 8, 42L);
        assertEquals(42L, m.get(ValueLayout.JAVA_LONG, (1 << 20) - 8));
        Libc.madvise(m, Libc.MADV_DONTNEED);
        assertEquals(0L, m.get(ValueLayout.JAVA_LONG, (1 << 20) - 8));
        Libc.munmap(m);
    }

    @Test
    void kickSignal_kickToSelf_isDrainedWithoutHandler() {
        try (KickSignal kick = KickSignal.blockOnCurrentThread()) {
            assertEquals(0, kick.drain());
            kick.kick();
            assertEquals(1, kick.drain());
            assertEquals(0, kick.drain());
        }
    }

    @Test
    void setrlimit_softOpenFileLimitWithinHard_isReadBack() {
        long[] before = Libc.getrlimit(Libc.RLIMIT_NOFILE);
        long soft = before[1] < 0 ? 4096 : Math.min(before[1], 4096);
        try {
            Libc.setrlimit(Libc.RLIMIT_NOFILE, soft, before[1]);
            assertEquals(soft, Libc.getrlimit(Libc.RLIMIT_NOFILE)[0]);
        } finally {
            Libc.setrlimit(Libc.RLIMIT_NOFILE, before[0], before[1]);
        }
    }

    @Test
    void setrlimit_softAboveHard_throwsNamingTheCall() {
        long[] limit = Libc.getrlimit(Libc.RLIMIT_NOFILE);
        if (limit[1] < 0) {
            return; // unlimited hard limit: nothing is above it
        }
        SyscallException e = assertThrows(SyscallException.class,
                () -> Libc.setrlimit(Libc.RLIMIT_NOFILE, limit[1] + 1, limit[1]));
        assertTrue(e.getMessage().startsWith("setrlimit("), e.getMessage());
    }
}
