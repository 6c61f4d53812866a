package dev.flotilla.node.console;

import java.io.OutputStream;
import java.util.Arrays;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.function.Consumer;

/**
 * A VM's serial console output: the last {@link #capacity} bytes kept in a ring (for late readers), and live
 * listeners (WebSocket sessions). The ring starts small and grows only as the guest writes, so thousands of
 * quiet VMs cost little heap. Written from the vCPU thread: listeners must not block.
 */
public final class ConsoleBuffer extends OutputStream {
    private static final int INITIAL = 256;

    private final int capacity;
    private final CopyOnWriteArrayList<Consumer<byte[]>> listeners = new CopyOnWriteArrayList<>();
    private byte[] ring = new byte[INITIAL];
    private long written;

    public ConsoleBuffer(int capacity) {
        this.capacity = capacity;
    }

    @Override
    public void write(int b) {
        write(new byte[]{(byte) b}, 0, 1);
    }

    @Override
    public void write(byte[] b, int off, int len) {
        synchronized (this) {
            ensureRoom(len);
            for (int i = 0; i < len; i++) {
                ring[(int) ((written + i) % ring.length)] = b[off + i];
            }
            written += len;
            // Inside the lock, so that subscribe() sees each write either in its backlog or live, never both.
            if (!listeners.isEmpty()) {
                byte[] chunk = Arrays.copyOfRange(b, off, off + len);
                for (Consumer<byte[]> l : listeners) {
                    l.accept(chunk);
                }
            }
        }
    }

    /** Grows the ring (while nothing has wrapped yet) up to the capacity. */
    private void ensureRoom(int len) {
        if (ring.length < capacity && written + len > ring.length) {
            int size = ring.length;
            while (size < written + len && size < capacity) {
                size *= 2;
            }
            ring = Arrays.copyOf(ring, Math.min(size, capacity));
        }
    }

    /** The retained output, oldest first. */
    public synchronized byte[] snapshot() {
        int kept = (int) Math.min(written, ring.length);
        byte[] out = new byte[kept];
        long start = written - kept;
        for (int i = 0; i < kept; i++) {
            out[i] = ring[(int) ((start + i) % ring.length)];
        }
        return out;
    }

    /** Total bytes the guest has written (also those no longer retained). */
    public synchronized long totalBytes() {
        return written;
    }

    /**
     * Sends the retained output to {@code listener}, then every new write, with nothing lost or repeated in
     * between. Returns what removes it.
     */
    public Runnable subscribe(Consumer<byte[]> listener) {
        synchronized (this) {
            byte[] backlog = snapshot();
            if (backlog.length > 0) {
                listener.accept(backlog);
            }
            listeners.add(listener);
        }
        return () -> listeners.remove(listener);
    }

    @Override
    public void flush() {
    }

    @Override
    public void close() {
    }
}
