package dev.flotilla.containers;

import dev.flotilla.agent.client.AgentException;
import dev.flotilla.agent.client.ProcessListener;
import dev.flotilla.agent.protocol.ExitStatus;
import dev.flotilla.agent.protocol.Stream;

import java.nio.charset.StandardCharsets;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CopyOnWriteArrayList;

/**
 * A process's output as the agent sent it, in chunks tagged with their stream, bounded to the newest
 * {@code capBytes} (older chunks are dropped and counted), plus its exit. Followers get the backlog and then
 * every new chunk, on the agent client's reader thread: they must not block.
 */
public final class ContainerLog implements ProcessListener {
    /** One piece of output. */
    public record Chunk(Stream stream, byte[] data) {
        public String text() {
            return new String(data, StandardCharsets.UTF_8);
        }
    }

    /** Receives chunks and the end of a followed log. */
    public interface Follower {
        void onChunk(Chunk chunk);

        /** The process ended (status) or the agent went away (status null, cause set). */
        void onEnd(ExitStatus status, AgentException cause);
    }

    private final int capBytes;
    private final ArrayDeque<Chunk> chunks = new ArrayDeque<>();
    private final List<Follower> followers = new CopyOnWriteArrayList<>();
    private final CompletableFuture<ExitStatus> exit = new CompletableFuture<>();
    private long bytes;
    private long droppedBytes;

    public ContainerLog(int capBytes) {
        if (capBytes <= 0) {
            throw new IllegalArgumentException("a log needs room for at least one byte, not " + capBytes);
        }
        this.capBytes = capBytes;
    }

    @Override
    public void onOutput(Stream stream, byte[] data) {
        Chunk chunk = new Chunk(stream, data);
        synchronized (this) {
            chunks.addLast(chunk);
            bytes += data.length;
            while (bytes > capBytes && chunks.size() > 1) {
                Chunk old = chunks.removeFirst();
                bytes -= old.data().length;
                droppedBytes += old.data().length;
            }
            // Delivered under the lock so that follow() never sees a chunk both in its backlog and live.
            for (Follower f : followers) {
                f.onChunk(chunk);
            }
            notifyAll();
        }
    }

    @Override
    public void onExit(ExitStatus status) {
        synchronized (this) {
            exit.complete(status);
            notifyAll();
        }
        followers.forEach(f -> f.onEnd(status, null));
        followers.clear();
    }

    @Override
    public void onDisconnected(AgentException cause) {
        synchronized (this) {
            exit.completeExceptionally(cause);
            notifyAll();
        }
        followers.forEach(f -> f.onEnd(null, cause));
        followers.clear();
    }

    /** The retained chunks, oldest first. */
    public synchronized List<Chunk> snapshot() {
        return new ArrayList<>(chunks);
    }

    /** The retained output of both streams as text, in arrival order. */
    public String text() {
        StringBuilder s = new StringBuilder();
        snapshot().forEach(c -> s.append(c.text()));
        return s.toString();
    }

    /** The retained output of one stream as text. */
    public String text(Stream stream) {
        StringBuilder s = new StringBuilder();
        snapshot().stream().filter(c -> c.stream() == stream).forEach(c -> s.append(c.text()));
        return s.toString();
    }

    public synchronized long droppedBytes() {
        return droppedBytes;
    }

    public CompletableFuture<ExitStatus> exit() {
        return exit;
    }

    /**
     * Hands the backlog to {@code follower}, then every new chunk until the end; if the process already ended,
     * the end is delivered at once. Answers a handle that stops following.
     */
    public Runnable follow(Follower follower) {
        synchronized (this) {
            chunks.forEach(follower::onChunk);
            if (!exit.isDone()) {
                followers.add(follower);
                return () -> followers.remove(follower);
            }
        }
        if (exit.isDone()) {
            ExitStatus status = exit.isCompletedExceptionally() ? null : exit.join();
            AgentException cause = null;
            if (status == null) {
                try {
                    exit.join();
                } catch (RuntimeException e) {
                    cause = e.getCause() instanceof AgentException a ? a : new AgentException(String.valueOf(e.getMessage()), e);
                }
            }
            follower.onEnd(status, cause);
        }
        return () -> followers.remove(follower);
    }

    /** Waits until the stdout text contains {@code text} or the process ends; true when it was seen. */
    public synchronized boolean awaitText(String text, java.time.Duration timeout) throws InterruptedException {
        long deadline = System.nanoTime() + timeout.toNanos();
        while (!text(Stream.STDOUT).contains(text)) {
            long left = deadline - System.nanoTime();
            if (left <= 0 || exit.isDone()) {
                return text(Stream.STDOUT).contains(text);
            }
            java.util.concurrent.TimeUnit.NANOSECONDS.timedWait(this, left);
        }
        return true;
    }
}
