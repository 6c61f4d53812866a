package dev.flotilla.vmm.event;

import dev.flotilla.vmm.sys.EpollEvent;
import dev.flotilla.vmm.sys.Errno;
import dev.flotilla.vmm.sys.Libc;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.util.Arrays;
import java.util.Objects;
import java.util.PriorityQueue;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;

/**
 * A per-VM event loop: one platform thread blocked in epoll_wait over eventfds (queue
 * notifications from KVM_IOEVENTFD, I/O completions), plus tasks posted from other threads and
 * timers. Device work runs here, never on a vCPU thread.
 *
 * <p>One pass: wait; for every ready eventfd drain its counter and run its handler; then run the
 * posted tasks; then the timers that are due. Handlers and tasks must not block (blocking I/O goes
 * to an executor whose completion posts back here). A handler that throws is logged and the loop
 * goes on: one faulty device must not stop its siblings.
 *
 * <p>{@link #close()} stops the thread, joins it and closes the epoll fd; eventfds registered by
 * others stay theirs to close (after the loop, so no pass reads a closed, reused fd number).
 */
public final class EventLoop implements AutoCloseable {

    private static final System.Logger LOG = System.getLogger(EventLoop.class.getName());
    private static final int MAX_EVENTS = 64;
    private static final long WAKE_TOKEN = -1;

    private final String name;
    private final int epollFd;
    private final EventFd wake = new EventFd();
    private final Arena arena = Arena.ofShared();
    private final MemorySegment events = arena.allocate(EpollEvent.LAYOUT, MAX_EVENTS);
    private final ConcurrentLinkedQueue<Runnable> tasks = new ConcurrentLinkedQueue<>();
    /** Touched only on the loop thread. */
    private final PriorityQueue<Timer> timers = new PriorityQueue<>();
    private volatile EventFd[] sources = new EventFd[0];
    private volatile Runnable[] handlers = new Runnable[0];
    private final CountDownLatch stopped = new CountDownLatch(1);
    private final Thread thread;
    private volatile boolean stopping;
    private boolean closed;
    private long timerSequence;

    private record Timer(long deadline, long sequence, Runnable task) implements Comparable<Timer> {
        @Override
        public int compareTo(Timer o) {
            int c = Long.compare(deadline, o.deadline);
            return c != 0 ? c : Long.compare(sequence, o.sequence);
        }
    }

    /** Creates the epoll instance and starts the loop thread, named {@code name}. */
    public EventLoop(String name) {
        this.name = Objects.requireNonNull(name);
        int fd;
        try {
            fd = Libc.epollCreate1(Libc.EPOLL_CLOEXEC);
        } catch (RuntimeException e) {
            wake.close();
            arena.close();
            throw e;
        }
        epollFd = fd;
        try {
            add(wake.fd(), WAKE_TOKEN);
        } catch (RuntimeException e) {
            Libc.close(epollFd);
            wake.close();
            arena.close();
            throw e;
        }
        thread = Thread.ofPlatform().name(name).daemon(true).start(this::run);
    }

    /**
     * Watches {@code source}: when it is signalled, the loop drains it and runs {@code handler}.
     * May be called from any thread, before or while the loop runs.
     */
    public synchronized void register(EventFd source, Runnable handler) {
        Objects.requireNonNull(handler);
        if (closed) {
            throw new IllegalStateException("event loop " + name + " is closed");
        }
        int token = handlers.length;
        EventFd[] s = Arrays.copyOf(sources, token + 1);
        Runnable[] h = Arrays.copyOf(handlers, token + 1);
        s[token] = source;
        h[token] = handler;
        // Publish the handler before the fd can fire.
        sources = s;
        handlers = h;
        add(source.fd(), token);
    }

    /**
     * Watches a non-blocking fd the caller owns (a tap) for readability, edge-triggered: the
     * handler runs when new data arrives and must read until EAGAIN or keep track of what it left
     * unread (a level-triggered fd left unread would spin the loop). Nothing is drained for it.
     * The fd must stay open until the loop is closed.
     */
    public synchronized void registerReadable(int fd, Runnable handler) {
        Objects.requireNonNull(handler);
        if (closed) {
            throw new IllegalStateException("event loop " + name + " is closed");
        }
        int token = handlers.length;
        EventFd[] s = Arrays.copyOf(sources, token + 1);
        Runnable[] h = Arrays.copyOf(handlers, token + 1);
        h[token] = handler;
        sources = s;
        handlers = h;
        add(fd, token, Libc.EPOLLIN | Libc.EPOLLET);
    }

    private void add(int fd, long token) {
        add(fd, token, Libc.EPOLLIN);
    }

    private void add(int fd, long token, int events) {
        try (Arena call = Arena.ofConfined()) {
            MemorySegment ev = call.allocate(EpollEvent.LAYOUT);
            EpollEvent.set(ev, events, token);
            Libc.epollCtl(epollFd, Libc.EPOLL_CTL_ADD, fd, ev);
        }
    }

    /** Runs {@code task} on the loop thread during its next pass. From any thread; dropped once closed. */
    public void execute(Runnable task) {
        if (stopping) {
            return;
        }
        tasks.add(task);
        wake.signal();
    }

    /** Runs {@code task} on the loop thread after {@code delayNanos}. Call from the loop thread only. */
    public void schedule(long delayNanos, Runnable task) {
        if (Thread.currentThread() != thread) {
            throw new IllegalStateException("timers are set from the loop thread");
        }
        timers.add(new Timer(System.nanoTime() + Math.max(0, delayNanos), timerSequence++, task));
    }

    /** True on the loop's own thread. */
    public boolean inLoop() {
        return Thread.currentThread() == thread;
    }

    public String name() {
        return name;
    }

    private void run() {
        try {
            while (!stopping) {
                int n = Libc.epollWaitOrErrno(epollFd, events, MAX_EVENTS, timeoutMillis());
                if (n < 0) {
                    if (n == -Errno.EINTR) {
                        continue;
                    }
                    LOG.log(System.Logger.Level.ERROR, "event loop " + name + ": epoll_wait failed (errno " + -n + "); loop ends");
                    return;
                }
                EventFd[] s = sources;
                Runnable[] h = handlers;
                for (int i = 0; i < n && !stopping; i++) {
                    long token = EpollEvent.data(events, i);
                    if (token == WAKE_TOKEN) {
                        wake.drain();
                    } else {
                        EventFd source = s[(int) token];
                        if (source != null) {
                            source.drain();
                        }
                        runSafely(h[(int) token]);
                    }
                }
                Runnable task;
                while (!stopping && (task = tasks.poll()) != null) {
                    runSafely(task);
                }
                runDueTimers();
            }
        } finally {
            stopped.countDown();
        }
    }

    private int timeoutMillis() {
        Timer next = timers.peek();
        if (next == null) {
            return -1;
        }
        long wait = next.deadline() - System.nanoTime();
        // Round up so a timer is never early; 0 polls.
        return wait <= 0 ? 0 : (int) Math.min(Integer.MAX_VALUE, (wait + 999_999) / 1_000_000);
    }

    private void runDueTimers() {
        long now = System.nanoTime();
        Timer t;
        while (!stopping && (t = timers.peek()) != null && t.deadline() - now <= 0) {
            timers.poll();
            runSafely(t.task());
        }
    }

    private void runSafely(Runnable r) {
        try {
            r.run();
        } catch (RuntimeException | AssertionError e) {
            LOG.log(System.Logger.Level.ERROR, "event loop " + name + ": a handler failed; the loop goes on", e);
        }
    }

    /** Stops and joins the thread, then closes the epoll fd and the wake eventfd. Idempotent. */
    @Override
    public void close() {
        synchronized (this) {
            if (closed) {
                return;
            }
            closed = true;
        }
        stopping = true;
        wake.signal();
        try {
            if (!stopped.await(10, TimeUnit.SECONDS)) {
                // A handler that never returns: leave the fds to the thread rather than closing them under it.
                throw new IllegalStateException("event loop " + name + " did not stop within 10 s");
            }
            thread.join();
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new IllegalStateException("interrupted while stopping event loop " + name, e);
        }
        tasks.clear();
        Libc.close(epollFd);
        wake.close();
        arena.close();
    }
}
