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

    /** Runs {@code task} on the event loop, under the transport's lock, after {@code delayNanos}. Call from the loop. */
    void schedule(long delayNanos, Runnable task);

    /**
     * Runs {@code task} on the event loop, under the transport's lock, whenever the non-blocking
     * fd {@code fd} (a tap the device's backend owns) becomes readable. Edge-triggered: the task
     * reads until EAGAIN or resumes by itself (a queue kick, a timer). The fd must stay open until
     * the VM's devices are closed.
     */
    void watchReadable(int fd, Runnable task);

    /** The clock timers and rate limiters use (System::nanoTime in a VM). */
    long nanoTime();
}
