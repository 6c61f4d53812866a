package dev.flotilla.vmm.devices.virtio;

import java.util.concurrent.Executor;

/**
 * What a device that does blocking work gets from the VM it is attached to: somewhere to block
 * (a small per-VM executor) and a way back onto its event loop. Devices still own no threads or
 * fds; in unit tests a hand-driven implementation runs both sides deterministically.
 */
public interface DeviceEnvironment {

    /** Where blocking work (file I/O) runs. Its tasks must not touch queues. */
    Executor blockingExecutor();

    /**
     * Returns a runnable that, called from any thread, makes {@code task} run on the event loop
     * holding the transport's lock (like {@link VirtioDevice#processQueue}). Create it once at
     * activation and call it per completion burst: calling it allocates nothing.
     */
    Runnable onLoop(Runnable task);

    /**
     * Returns a runnable that, called from a {@link #blockingExecutor()} thread, runs {@code task}
     * right there under the transport's lock, exactly as serialised with queue processing as a
     * loop task: for I/O completions, which then skip the trip back to the loop (an eventfd
     * write and a loop wake-up per burst, a thread switch on the request's critical path). The
     * task must not call {@link #schedule} (loop-only). Create it once at activation; calling it
     * allocates nothing.
     */
    Runnable underLock(Runnable task);

    /** Runs {@code task} on the event loop, under the transport's lock, after {@code delayNanos}. Call from the loop. */
    void schedule(long delayNanos, Runnable task);

    /**
     * Runs {@code task} on the event loop, under the transport's lock, whenever the non-blocking
     * fd {@code fd} (a tap the device's backend owns) becomes readable. Edge-triggered: the task
     * reads until EAGAIN or resumes by itself (a queue kick, a timer). The fd must stay open until
     * the VM's devices are closed.
     */
    void watchReadable(int fd, Runnable task);

    /**
     * Returns a runnable that, called from any thread, makes the event loop process queue
     * {@code queueIndex} as a driver notification would (nothing happens until the device is
     * active). For host-side work arriving at a device, e.g. a host socket write for
     * virtio-vsock: calls before the loop gets to them coalesce into one pass, and calling it
     * allocates nothing (in a VM it signals an eventfd the loop watches). Call from {@code create}.
     */
    Runnable queueKick(int queueIndex);

    /**
     * Closes {@code resource} when the device is released with its VM: after the event loop
     * stopped, before the device itself. For what a device config starts beside its device
     * (the vsock Unix bridge). Call from {@code create}.
     */
    void closeWithDevice(AutoCloseable resource);

    /** The clock timers and rate limiters use (System::nanoTime in a VM). */
    long nanoTime();
}
