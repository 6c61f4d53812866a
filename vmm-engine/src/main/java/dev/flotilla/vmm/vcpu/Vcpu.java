package dev.flotilla.vmm.vcpu;

import dev.flotilla.vmm.bus.Bus;
import dev.flotilla.vmm.kvm.KvmRun;
import dev.flotilla.vmm.kvm.KvmVcpu;
import dev.flotilla.vmm.kvm.VcpuExit;
import dev.flotilla.vmm.sys.KickSignal;
import dev.flotilla.vmm.sys.KvmAbi;
import dev.flotilla.vmm.sys.ThreadStack;

import java.lang.invoke.MethodHandles;
import java.lang.invoke.VarHandle;
import java.time.Duration;
import java.util.concurrent.TimeoutException;

/**
 * One vCPU on its own platform thread, driven by commands: {@link #start}, {@link #pause},
 * {@link #resume}, {@link #stop}. Port I/O and MMIO exits are served on this thread straight
 * from kvm_run into the buses, allocation-free; other exits go to a {@link VcpuExitHandler}.
 *
 * <h2>Getting a vCPU out of KVM_RUN</h2>
 * A vCPU can sit inside KVM_RUN for as long as the guest likes (a guest idling in HLT with the
 * in-kernel irqchip never exits). To pause or stop it, the commanding thread sets the command,
 * sets {@code kvm_run.immediate_exit} and sends {@link KickSignal#SIGNAL} to the vCPU thread.
 * That signal is blocked on the vCPU thread except inside KVM_RUN (KVM_SET_SIGNAL_MASK), so it
 * either interrupts KVM_RUN with EINTR or, if the thread is outside, waits pending and makes the
 * next KVM_RUN return EINTR at once. The thread then takes it off with sigtimedwait: no signal
 * handler exists and the signal is never delivered. Commands are written before the kick, so the
 * thread always sees the command that caused the EINTR it got.
 */
public final class Vcpu {

    public enum State { CREATED, RUNNING, PAUSED, STOPPED }

    private enum Command { RUN, PAUSE, STOP }

    /**
     * The vCPU thread's stack reservation. Its work is shallow (the exit loop and the device
     * handlers it calls), and a 1,000-VM host has 1,000 of these threads: 256 KiB instead of the
     * JVM's 1 MiB default keeps the reservation, and the pages the JVM's stack banging touches, small.
     */
    static final long STACK_BYTES = 256 * 1024;

    private final KvmVcpu vcpu;
    private final KvmRun exit;
    private final Bus portIo;
    private final Bus mmio;
    private final VcpuExitHandler handler;
    private final Thread thread;

    /*
     * Exit counters, indexed by the COUNT_* constants. Only the vCPU thread writes them; others
     * read a snapshot through exitCounts(). Opaque access is enough: no tearing of the longs and
     * no reordering of a thread's own accesses, but no fences on the exit path (readers may see a
     * value a few exits old, which a metric scraped every few seconds does not mind).
     */
    private static final VarHandle COUNT = MethodHandles.arrayElementVarHandle(long[].class);
    private static final int COUNT_IO = 0, COUNT_MMIO = 1, COUNT_HALT = 2, COUNT_SHUTDOWN = 3,
            COUNT_INTERRUPTED = 4, COUNT_OTHER = 5;
    private final long[] exitCounts = new long[6];

    private final Object lock = new Object();
    private volatile Command command = Command.RUN;
    private State state = State.CREATED;
    /** Non-null while the thread is alive and kickable; guarded by {@link #lock}. */
    private KickSignal kick;

    public Vcpu(KvmVcpu vcpu, Bus portIo, Bus mmio, VcpuExitHandler handler, String threadName) {
        this.vcpu = vcpu;
        this.exit = vcpu.exit();
        this.portIo = portIo;
        this.mmio = mmio;
        this.handler = handler;
        this.thread = Thread.ofPlatform().name(threadName).daemon(true).stackSize(STACK_BYTES)
                .unstarted(this::loop);
    }

    public int id() {
        return vcpu.id();
    }

    public State state() {
        synchronized (lock) {
            return state;
        }
    }

    /**
     * Starts the thread; the guest runs until paused or stopped. Does not wait for the thread to
     * be scheduled (on a busy host that is milliseconds per VM): a command given before the thread
     * is kickable is seen by it before its first KVM_RUN, since it publishes its kick signal under
     * {@link #lock} before reading the command, and a commander kicks only once that is published.
     */
    public void start() {
        synchronized (lock) {
            if (state != State.CREATED) {
                throw new IllegalStateException("vCPU " + id() + " was already started");
            }
            state = State.RUNNING;
        }
        thread.start();
    }

    /** Stops the guest on this vCPU and waits until the thread acknowledges (or has ended). */
    public void pause(Duration timeout) throws TimeoutException {
        synchronized (lock) {
            if (state == State.STOPPED || state == State.CREATED) {
                return;
            }
            command = Command.PAUSE;
            kickLocked();
            awaitState(timeout, "pause", State.PAUSED, State.STOPPED);
        }
    }

    /** Lets a paused vCPU run again. */
    public void resume() {
        synchronized (lock) {
            if (command == Command.PAUSE) {
                command = Command.RUN;
                lock.notifyAll();
            }
        }
    }

    /**
     * Asks the thread to end, kicking it out of KVM_RUN, without waiting. Safe from any thread,
     * including this vCPU's own (a device that ends the VM from inside an exit).
     */
    public void requestStop() {
        synchronized (lock) {
            if (state == State.CREATED) {
                state = State.STOPPED;
                return;
            }
            command = Command.STOP;
            lock.notifyAll();
            if (Thread.currentThread() != thread) {
                kickLocked();
            }
        }
    }

    /** {@link #requestStop()}, then waits for the thread to end. Idempotent. */
    public void stop(Duration timeout) throws TimeoutException {
        requestStop();
        if (Thread.currentThread() == thread || !thread.isAlive() && state() == State.STOPPED) {
            return;
        }
        long deadline = System.nanoTime() + timeout.toNanos();
        try {
            // Kicked again every slice: one kick suffices in theory, but a host that stalls (a
            // nested lab under load) must not turn a late kick into a VM that can never be freed.
            while (!thread.join(Duration.ofNanos(Math.max(1, Math.min(RE_KICK_NANOS, deadline - System.nanoTime()))))) {
                if (System.nanoTime() - deadline >= 0) {
                    throw new TimeoutException("vCPU %d did not stop within %s; its thread is at %s"
                            .formatted(id(), timeout, whereIs(thread)));
                }
                synchronized (lock) {
                    kickLocked();
                }
            }
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new TimeoutException("interrupted while stopping vCPU " + id());
        }
    }

    private static final long RE_KICK_NANOS = 100_000_000L;

    /** The top frames of a thread that would not stop, for the error that says so. */
    private static String whereIs(Thread t) {
        StackTraceElement[] frames = t.getStackTrace();
        StringBuilder where = new StringBuilder();
        for (int i = 0; i < Math.min(6, frames.length); i++) {
            where.append(i == 0 ? "" : " < ").append(frames[i]);
        }
        return frames.length == 0 ? "(no Java frames)" : where.toString();
    }

    /** How often this vCPU left KVM_RUN, by reason; may lag the vCPU thread by a few exits. */
    public ExitCounts exitCounts() {
        return new ExitCounts(countOf(COUNT_IO), countOf(COUNT_MMIO), countOf(COUNT_HALT),
                countOf(COUNT_SHUTDOWN), countOf(COUNT_INTERRUPTED), countOf(COUNT_OTHER));
    }

    private long countOf(int index) {
        return (long) COUNT.getOpaque(exitCounts, index);
    }

    /** Called on the vCPU thread only (the single writer), so read-then-write cannot lose counts. */
    private void count(int index) {
        COUNT.setOpaque(exitCounts, index, (long) COUNT.getOpaque(exitCounts, index) + 1);
    }

    private static int counterFor(int exitReason) {
        return switch (exitReason) {
            case KvmAbi.KVM_EXIT_HLT -> COUNT_HALT;
            case KvmAbi.KVM_EXIT_SHUTDOWN, KvmAbi.KVM_EXIT_SYSTEM_EVENT -> COUNT_SHUTDOWN;
            case KvmAbi.KVM_EXIT_INTR -> COUNT_INTERRUPTED;
            default -> COUNT_OTHER;
        };
    }

    /** True once the thread has ended. */
    public boolean isStopped() {
        return state() == State.STOPPED;
    }

    private void kickLocked() {
        if (kick != null) {
            exit.requestImmediateExit(true);
            kick.kick();
        }
    }

    private void awaitState(Duration timeout, String what, State a, State b) throws TimeoutException {
        long deadline = System.nanoTime() + timeout.toNanos();
        while (state != a && state != b) {
            long left = deadline - System.nanoTime();
            if (left <= 0) {
                throw new TimeoutException("vCPU %d did not %s within %s".formatted(id(), what, timeout));
            }
            try {
                lock.wait(Math.max(1, left / 1_000_000));
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                throw new TimeoutException("interrupted while waiting for vCPU " + id() + " to " + what);
            }
        }
    }

    private void waitOn() {
        try {
            lock.wait();
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }

    private void loop() {
        KickSignal signal = null;
        try {
            signal = KickSignal.blockOnCurrentThread();
            vcpu.setSignalMask(signal.kernelMaskWhileRunning());
            // The thread start touched an 80 KiB shadow zone of stack that this shallow loop never
            // needs again: with a thousand VMs that is most of what their threads cost.
            ThreadStack.releaseUnusedPages();
            synchronized (lock) {
                kick = signal;
                lock.notifyAll();
            }
            handler.onFirstRun(id(), System.nanoTime());
            runLoop(signal);
        } catch (Throwable t) {
            handler.onError(id(), t);
        } finally {
            synchronized (lock) {
                kick = null; // from here on nobody may pthread_kill this thread
                state = State.STOPPED;
                lock.notifyAll();
            }
            if (signal != null) {
                // A kick that arrived outside KVM_RUN (e.g. stop while paused) is still pending, and
                // the thread's exit path would deliver it, whose default action kills the process.
                signal.drain();
                signal.close();
            }
        }
    }

    private void runLoop(KickSignal signal) {
        while (true) {
            Command c = command;
            if (c == Command.STOP) {
                return;
            }
            if (c == Command.PAUSE) {
                synchronized (lock) {
                    state = State.PAUSED;
                    lock.notifyAll();
                    while (command == Command.PAUSE) {
                        waitOn();
                    }
                    if (command == Command.RUN) {
                        state = State.RUNNING;
                    }
                }
                continue;
            }
            if (vcpu.run() < 0) {
                count(COUNT_INTERRUPTED);
                interrupted(signal);
                continue;
            }
            int reason = exit.exitReason();
            if (reason == KvmAbi.KVM_EXIT_IO) {
                count(COUNT_IO);
                servePortIo();
            } else if (reason == KvmAbi.KVM_EXIT_MMIO) {
                count(COUNT_MMIO);
                serveMmio();
            } else {
                count(counterFor(reason));
                VcpuExit other = exit.decodeOtherExit();
                if (other instanceof VcpuExit.Shutdown) {
                    other = new VcpuExit.Shutdown(cpuState());
                }
                if (other instanceof VcpuExit.Interrupted) {
                    interrupted(signal);
                } else if (handler.onExit(id(), other) == VcpuExitHandler.Action.STOP) {
                    return;
                }
            }
        }
    }

    /** Where this vCPU stands, in one line (a cold path: only after a triple fault). */
    private String cpuState() {
        try {
            var r = vcpu.getRegisters();
            var s = vcpu.getSpecialRegisters();
            String state = String.format("rip=%#x rsp=%#x rflags=%#x cs=%#x cr0=%#x cr2=%#x cr3=%#x cr4=%#x efer=%#x idt=%#x/%#x",
                    r.rip(), r.rsp(), r.rflags(), s.cs().selector(), s.cr0(), s.cr2(), s.cr3(), s.cr4(), s.efer(),
                    s.idtBase(), s.idtLimit());
            // AMD's VMCB is undefined after a shutdown, so KVM on SVM INITs the vCPU before reporting it: the
            // registers are then the reset values and say nothing about where the guest died.
            return r.rip() == 0xfff0 && s.cs().selector() == 0xf000
                    ? state + "; reset values: KVM re-initialises the vCPU on a shutdown (AMD), the faulting state is lost"
                    : state;
        } catch (RuntimeException e) {
            return "registers unreadable: " + e.getMessage();
        }
    }

    private void interrupted(KickSignal signal) {
        signal.drain();
        exit.requestImmediateExit(false);
    }

    private void servePortIo() {
        int port = exit.ioPort();
        int size = exit.ioSize();
        int count = exit.ioCount();
        if (exit.ioIsWrite()) {
            for (int i = 0; i < count; i++) {
                portIo.write(port, size, exit.ioData(i));
            }
        } else {
            for (int i = 0; i < count; i++) {
                exit.setIoData(i, portIo.read(port, size));
            }
        }
    }

    private void serveMmio() {
        long address = exit.mmioAddress();
        int length = exit.mmioLength();
        if (length < 1 || length > 8) {
            return; // KVM never reports other lengths; ignore rather than trust it blindly
        }
        if (exit.mmioIsWrite()) {
            long data = exit.mmioData();
            mmio.write(address, length, length == 8 ? data : data & ((1L << (length * 8)) - 1));
        } else {
            exit.setMmioData(mmio.read(address, length));
        }
    }
}
