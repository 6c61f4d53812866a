package dev.flotilla.vmm.devices.virtio.testing;

import dev.flotilla.vmm.devices.virtio.DeviceEnvironment;
import dev.flotilla.vmm.devices.virtio.mmio.MmioTransport;

import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.Deque;
import java.util.List;
import java.util.concurrent.Executor;

/**
 * A {@link DeviceEnvironment} a test drives by hand: blocking work and loop tasks queue up until
 * {@link #runAll()}, and the clock only moves with {@link #advance}. So asynchronous device code
 * runs deterministically on the test thread, in the order a VM would run it.
 */
public final class ManualEnvironment implements DeviceEnvironment {

    private final Deque<Runnable> blocking = new ArrayDeque<>();
    private final Deque<Runnable> loop = new ArrayDeque<>();
    private final List<long[]> timerDeadlines = new ArrayList<>();
    private final List<Runnable> timerTasks = new ArrayList<>();
    private long now = 1_000_000_000L;
    private MmioTransport transport;
    private final List<AutoCloseable> closed = new ArrayList<>();

    /** Loop tasks run under this transport's lock, as in a VM. */
    public void attach(MmioTransport t) {
        this.transport = t;
    }

    @Override
    public Executor blockingExecutor() {
        return blocking::add;
    }

    @Override
    public Runnable onLoop(Runnable task) {
        return () -> loop.add(() -> transport.runLocked(task));
    }

    /** Runs where it is called (inside {@link #runAll()}'s blocking work), under the lock, as in a VM. */
    @Override
    public Runnable underLock(Runnable task) {
        return () -> transport.runLocked(task);
    }

    @Override
    public void schedule(long delayNanos, Runnable task) {
        timerDeadlines.add(new long[] {now + delayNanos});
        timerTasks.add(() -> transport.runLocked(task));
    }

    private final List<Runnable> readableTasks = new ArrayList<>();

    @Override
    public void watchReadable(int fd, Runnable task) {
        readableTasks.add(() -> transport.runLocked(task));
    }

    /** As the event loop does when a watched fd becomes readable: runs every readable task, then what they caused. */
    public void fireReadable() {
        for (Runnable r : readableTasks) {
            r.run();
        }
        runAll();
    }

    public int watchedFds() {
        return readableTasks.size();
    }

    @Override
    public Runnable queueKick(int queueIndex) {
        return () -> loop.add(() -> transport.processQueueNotification(queueIndex));
    }

    @Override
    public void closeWithDevice(AutoCloseable resource) {
        closed.add(resource);
    }

    /** What devices asked to have closed with them, in order. */
    public List<AutoCloseable> closeWithDevice() {
        return closed;
    }

    @Override
    public long nanoTime() {
        return now;
    }

    public int pendingBlocking() {
        return blocking.size();
    }

    public int pendingTimers() {
        return timerTasks.size();
    }

    private int loopTasksRun;

    /** Loop tasks run so far (each one a loop wake-up in a VM). */
    public int loopTasksRun() {
        return loopTasksRun;
    }

    /** Runs blocking work and loop tasks until neither has anything left. */
    public void runAll() {
        while (!blocking.isEmpty() || !loop.isEmpty()) {
            while (!blocking.isEmpty()) {
                blocking.poll().run();
            }
            while (!loop.isEmpty()) {
                loopTasksRun++;
                loop.poll().run();
            }
        }
    }

    /** Moves the clock, runs the timers now due, then everything they caused. */
    public void advance(long nanos) {
        now += nanos;
        boolean ran = true;
        while (ran) {
            ran = false;
            for (int i = 0; i < timerTasks.size(); i++) {
                if (timerDeadlines.get(i)[0] <= now) {
                    Runnable t = timerTasks.remove(i);
                    timerDeadlines.remove(i);
                    t.run();
                    ran = true;
                    break;
                }
            }
            runAll();
        }
    }
}
