package dev.flotilla.vmm.sys;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;

/**
 * A real-time signal used to get a thread out of a blocking {@code KVM_RUN}, without any signal
 * handler: the signal stays blocked on the owning thread at all times, and KVM unblocks it only
 * while the guest runs (KVM_SET_SIGNAL_MASK with {@link #kernelMaskWhileRunning()}). A kick then
 * makes KVM_RUN return EINTR; back in user space the signal is blocked again and still pending,
 * and {@link #drain()} takes it off with {@code sigtimedwait}. Never delivered, so never fatal.
 *
 * <p>Create it on the thread to be kicked; {@link #kick()} may be called from any thread while the
 * owner is alive (the caller must guarantee that: pthread_kill on an exited thread is undefined).
 */
public final class KickSignal implements AutoCloseable {

    /** glibc's SIGRTMIN is 34 (32 and 33 are taken by NPTL); +6 stays clear of other users. */
    public static final int SIGNAL = 34 + 6;

    private static final int SIG_BLOCK = 0;
    /** glibc's sigset_t is 1024 bits. */
    private static final long GLIBC_SIGSET_BYTES = 128;

    /**
     * Confined to the owning thread, which alone uses {@link #set} and closes it: closing a shared
     * arena waits for a handshake with every thread of the JVM, which with a thousand vCPU threads
     * made each VM's teardown cost milliseconds.
     */
    private final Arena arena = Arena.ofConfined();
    private final MemorySegment set;
    private final MemorySegment zeroTimeout;
    private final long thread;

    private KickSignal() {
        set = arena.allocate(GLIBC_SIGSET_BYTES, 8);
        set.set(ValueLayout.JAVA_LONG, 0, 1L << (SIGNAL - 1));
        zeroTimeout = arena.allocate(16, 8);
        Libc.pthreadSigmask(SIG_BLOCK, set, MemorySegment.NULL);
        thread = Libc.pthreadSelf();
    }

    /** Blocks the signal on the calling thread, which becomes the one {@link #kick()} targets. */
    public static KickSignal blockOnCurrentThread() {
        return new KickSignal();
    }

    /**
     * The calling thread's current signal mask without the kick signal, as the kernel's 64-bit
     * sigset (what KVM_SET_SIGNAL_MASK takes, 8 bytes).
     */
    public long kernelMaskWhileRunning() {
        try (Arena call = Arena.ofConfined()) {
            MemorySegment old = call.allocate(GLIBC_SIGSET_BYTES, 8);
            Libc.pthreadSigmask(SIG_BLOCK, MemorySegment.NULL, old);
            return old.get(ValueLayout.JAVA_LONG, 0) & ~(1L << (SIGNAL - 1));
        }
    }

    /** Sends the signal to the owning thread. */
    public void kick() {
        Libc.pthreadKill(thread, SIGNAL);
    }

    /** On the owning thread: takes every pending kick off; returns how many were pending (0 or 1). */
    public int drain() {
        int taken = 0;
        while (true) {
            int rc = Libc.sigtimedwaitOrErrno(set, zeroTimeout);
            if (rc == SIGNAL) {
                taken++;
            } else if (rc == -Errno.EINTR) {
                continue;
            } else if (rc == -Errno.EAGAIN) {
                return taken;
            } else {
                throw new SyscallException("sigtimedwait(signal " + SIGNAL + ")", -rc);
            }
        }
    }

    @Override
    public void close() {
        arena.close();
    }
}
