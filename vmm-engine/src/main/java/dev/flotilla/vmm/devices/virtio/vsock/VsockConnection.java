package dev.flotilla.vmm.devices.virtio.vsock;

import java.io.IOException;
import java.io.InputStream;
import java.io.InterruptedIOException;
import java.io.OutputStream;
import java.util.Objects;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ForkJoinPool;
import java.util.concurrent.ForkJoinWorkerThread;
import java.util.concurrent.atomic.AtomicBoolean;

/**
 * One vsock stream between a host port (this JVM) and a guest port. The host side is a blocking
 * byte stream ({@link #read}, {@link #write}, {@link #inputStream()}, {@link #outputStream()})
 * with non-blocking variants ({@link #tryRead}, {@link #tryWrite}) and a {@link #setReadyListener
 * readiness callback} for event-driven users.
 *
 * <p>Both directions are bounded: guest data waits in a receive buffer whose size is the
 * {@code buf_alloc} advertised to the guest (so an honest guest can never overflow it), host data
 * waits in a send buffer and {@link #write} blocks while it is full. All fields are guarded by
 * this object's monitor; the device's event-loop pass takes it briefly, host threads too, and no
 * user code runs while it is held.
 */
public final class VsockConnection implements AutoCloseable {

    enum State { CONNECTING, ACCEPTING, ESTABLISHED, CLOSED }

    private final VirtioVsock device;
    final long guestPort;
    /** Assigned by the device pass for host-initiated connections; fixed for guest-initiated ones. */
    volatile long hostPort;
    final boolean hostInitiated;
    final AtomicBoolean queuedForService = new AtomicBoolean();
    final CompletableFuture<VsockConnection> established;

    // --- guarded by this ---
    State state;
    final ByteRing received;
    final ByteRing toSend;
    /** Bytes received from the guest (u32 wrapping), and consumed by the host reader (fwd_cnt). */
    int receivedCount;
    int forwardedCount;
    int lastReportedForwardedCount;
    /** Guest credit: its buf_alloc and fwd_cnt, and our tx_cnt (§5.10.6.3). */
    int peerBufAlloc;
    int peerForwardedCount;
    int sentCount;
    boolean creditRequested;
    boolean peerShutdownReceive;
    boolean peerShutdownSend;
    boolean hostShutdownOutput;
    boolean hostClosed;
    int shutdownFlagsSent;
    boolean requestSent;
    boolean responsePending;
    boolean creditUpdatePending;
    boolean resetPending;
    /** Device-pass bookkeeping: in the outbound round-robin. */
    boolean inOutbound;
    /** Why the connection ended abnormally (reset, refused, device reset); null for an orderly end. */
    String failure;
    private Runnable readyListener;
    private final AtomicBoolean readyScheduled = new AtomicBoolean();

    VsockConnection(VirtioVsock device, long hostPort, long guestPort, boolean hostInitiated, State state,
                    int receiveBuffer, int sendBuffer) {
        this.device = device;
        this.hostPort = hostPort;
        this.guestPort = guestPort;
        this.hostInitiated = hostInitiated;
        this.state = state;
        this.received = new ByteRing(receiveBuffer);
        this.toSend = new ByteRing(sendBuffer);
        this.established = new CompletableFuture<>();
    }

    public long hostPort() {
        return hostPort;
    }

    public long guestPort() {
        return guestPort;
    }

    /** True when the guest opened it. */
    public boolean isGuestInitiated() {
        return !hostInitiated;
    }

    public synchronized boolean isOpen() {
        return state != State.CLOSED;
    }

    /** Bytes the guest has sent that the host has not read yet. */
    public synchronized int available() {
        return received.size();
    }

    // ------------------------------------------------------------------ reading

    /**
     * Reads at least one byte, blocking until data arrives; -1 once the guest has shut down its
     * sending side (or the connection closed in order) and everything was read.
     */
    public int read(byte[] buffer, int offset, int length) throws IOException {
        Objects.checkFromIndexSize(offset, length, buffer.length);
        if (length == 0) {
            return 0;
        }
        int n;
        boolean creditDue;
        synchronized (this) {
            while (received.isEmpty() && !endOfInput()) {
                awaitChange();
            }
            n = consume(buffer, offset, length);
            creditDue = n > 0 && creditUpdatePending;
        }
        afterConsume(creditDue);
        return n;
    }

    /** Non-blocking read: bytes read, 0 when none are available yet, -1 at end of input. */
    public int tryRead(byte[] buffer, int offset, int length) throws IOException {
        Objects.checkFromIndexSize(offset, length, buffer.length);
        int n;
        boolean creditDue;
        synchronized (this) {
            if (received.isEmpty() && !endOfInput()) {
                return 0;
            }
            n = consume(buffer, offset, length);
            creditDue = n > 0 && creditUpdatePending;
        }
        afterConsume(creditDue);
        return n;
    }

    private boolean endOfInput() throws IOException {
        if (hostClosed) {
            throw new IOException("vsock connection %s is closed".formatted(this));
        }
        if (failure != null && received.isEmpty()) {
            throw new IOException("vsock connection %s: %s".formatted(this, failure));
        }
        return peerShutdownSend || state == State.CLOSED;
    }

    private int consume(byte[] buffer, int offset, int length) {
        if (received.isEmpty()) {
            return -1;
        }
        int n = received.read(buffer, offset, length);
        forwardedCount += n;
        // Tell the guest about the freed space once its view of our buffer is at most half
        // free: often enough that it never stalls, rarely enough that small messages do not
        // each cost a credit packet.
        int guestViewFree = received.capacity() - (receivedCount - lastReportedForwardedCount);
        if (state == State.ESTABLISHED && guestViewFree < received.capacity() / 2) {
            creditUpdatePending = true;
        }
        notifyAll();
        return n;
    }

    /**
     * Wakes the device's loop only when the read made a credit update due: every packet the host
     * sends carries the forwarded count anyway, so a read alone need not cost the loop a pass.
     */
    private void afterConsume(boolean creditDue) {
        if (creditDue) {
            device.requestService(this);
        }
    }

    // ------------------------------------------------------------------ writing

    /** Queues all of {@code buffer[offset, offset+length)} for the guest, blocking while the send buffer is full. */
    public void write(byte[] buffer, int offset, int length) throws IOException {
        Objects.checkFromIndexSize(offset, length, buffer.length);
        while (length > 0) {
            int n;
            synchronized (this) {
                checkWritable();
                // Blocked writers resume once half the buffer is free (or their whole rest fits), as a socket's
                // do: one wake-up per half buffer instead of one per packet the guest takes.
                if (toSend.free() == 0) {
                    while (toSend.free() < Math.min(length, writerWakeMark())) {
                        awaitChange();
                        checkWritable();
                    }
                }
                n = toSend.write(buffer, offset, length);
            }
            device.requestService(this);
            offset += n;
            length -= n;
        }
    }

    /** Free send-buffer space at which blocked writers are woken: half the buffer. */
    int writerWakeMark() {
        return Math.max(1, toSend.capacity() / 2);
    }

    /** Non-blocking write: how many bytes were queued (0 when the send buffer is full). */
    public int tryWrite(byte[] buffer, int offset, int length) throws IOException {
        Objects.checkFromIndexSize(offset, length, buffer.length);
        int n;
        synchronized (this) {
            checkWritable();
            n = toSend.write(buffer, offset, length);
        }
        if (n > 0) {
            device.requestService(this);
        }
        return n;
    }

    private void checkWritable() throws IOException {
        if (hostShutdownOutput || hostClosed) {
            throw new IOException("vsock connection %s: output is shut down".formatted(this));
        }
        if (failure != null) {
            throw new IOException("vsock connection %s: %s".formatted(this, failure));
        }
        if (state == State.CLOSED || peerShutdownReceive) {
            throw new IOException("vsock connection %s: the guest no longer receives".formatted(this));
        }
    }

    /** Blocks until everything written so far has been handed to the guest (or the connection ended). */
    public void flush() throws IOException {
        synchronized (this) {
            while (!toSend.isEmpty() && state != State.CLOSED && !peerShutdownReceive) {
                awaitChange();
            }
            if (!toSend.isEmpty() && failure != null) {
                throw new IOException("vsock connection %s: %s".formatted(this, failure));
            }
        }
    }

    // ------------------------------------------------------------------ closing

    /** Half-close: the guest reads end-of-stream after the data already written (SHUTDOWN SEND). */
    public void shutdownOutput() {
        synchronized (this) {
            if (hostShutdownOutput || state == State.CLOSED) {
                return;
            }
            hostShutdownOutput = true;
        }
        device.requestService(this);
    }

    /**
     * Closes both directions without blocking: data already written is still delivered, then the
     * guest gets SHUTDOWN; unread input is dropped. Idempotent.
     */
    @Override
    public void close() {
        synchronized (this) {
            if (hostClosed) {
                return;
            }
            hostClosed = true;
            hostShutdownOutput = true;
            received.clear();
            notifyAll();
        }
        device.requestService(this);
        device.scheduleCloseTimeout(this);
    }

    /** Abandons the connection at once: the guest gets RST, pending data is dropped. */
    public void abort(String reason) {
        synchronized (this) {
            if (state == State.CLOSED) {
                return;
            }
            hostClosed = true;
            hostShutdownOutput = true;
            resetPending = true;
            failure = reason;
            notifyAll();
        }
        established.completeExceptionally(new IOException("vsock connection %s: %s".formatted(this, reason)));
        device.requestService(this);
    }

    // ------------------------------------------------------------------ readiness

    /**
     * Called (on a callback thread, never the event loop, coalesced) whenever this connection may
     * have become readable, writable or closed. For event-driven users of tryRead/tryWrite.
     */
    public void setReadyListener(Runnable listener) {
        synchronized (this) {
            readyListener = listener;
        }
        if (listener != null) {
            signalReady();
        }
    }

    /** Wakes blocked host threads and schedules the ready listener. Callers hold this monitor. */
    void changed() {
        notifyAll();
        if (readyListener != null) {
            signalReady();
        }
    }

    private void signalReady() {
        if (readyScheduled.compareAndSet(false, true)) {
            device.callbacks().execute(() -> {
                readyScheduled.set(false);
                Runnable listener;
                synchronized (this) {
                    listener = readyListener;
                }
                if (listener != null) {
                    listener.run();
                }
            });
        }
    }

    /**
     * Waits (holding this monitor) until a buffer or flag may have changed. On a ForkJoinPool
     * worker the wait is a {@link ForkJoinPool#managedBlock managed block}: the pool may start a
     * spare worker meanwhile. Without it, a writer blocked here on a common-pool thread (two CPUs:
     * parallelism 1) can starve the very task that would drain the connection, e.g. its reader
     * queued behind it in the same pool, and both ends stall forever.
     */
    private void awaitChange() throws InterruptedIOException {
        try {
            if (Thread.currentThread() instanceof ForkJoinWorkerThread) {
                ForkJoinPool.managedBlock(new ForkJoinPool.ManagedBlocker() {
                    @Override
                    public boolean block() throws InterruptedException {
                        VsockConnection.this.wait();
                        return true; // one wake-up; the caller re-checks its condition
                    }

                    @Override
                    public boolean isReleasable() {
                        return false;
                    }
                });
            } else {
                wait();
            }
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new InterruptedIOException("interrupted while waiting on vsock connection " + this);
        }
    }

    // ------------------------------------------------------------------ streams

    public InputStream inputStream() {
        return new InputStream() {
            private final byte[] one = new byte[1];

            @Override
            public int read() throws IOException {
                int n = VsockConnection.this.read(one, 0, 1);
                return n < 0 ? -1 : one[0] & 0xff;
            }

            @Override
            public int read(byte[] b, int off, int len) throws IOException {
                return VsockConnection.this.read(b, off, len);
            }

            @Override
            public int available() {
                return VsockConnection.this.available();
            }

            @Override
            public void close() {
                VsockConnection.this.close();
            }
        };
    }

    public OutputStream outputStream() {
        return new OutputStream() {
            @Override
            public void write(int b) throws IOException {
                VsockConnection.this.write(new byte[] {(byte) b}, 0, 1);
            }

            @Override
            public void write(byte[] b, int off, int len) throws IOException {
                VsockConnection.this.write(b, off, len);
            }

            @Override
            public void flush() throws IOException {
                VsockConnection.this.flush();
            }

            @Override
            public void close() {
                VsockConnection.this.shutdownOutput();
            }
        };
    }

    @Override
    public String toString() {
        return "host:%d<->guest:%d".formatted(hostPort, guestPort);
    }
}
