package dev.flotilla.agent.client;

import dev.flotilla.agent.protocol.ExitStatus;
import dev.flotilla.agent.protocol.Stream;

import java.io.ByteArrayOutputStream;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;

/**
 * A listener that keeps a process's stdout and stderr (up to a cap each, then drops and counts)
 * and its exit, for callers that want "run it and give me what it printed".
 */
public final class CapturedOutput implements ProcessListener {
    private final int capBytes;
    private final ByteArrayOutputStream stdout = new ByteArrayOutputStream();
    private final ByteArrayOutputStream stderr = new ByteArrayOutputStream();
    private long dropped;
    private final CompletableFuture<ExitStatus> exit = new CompletableFuture<>();

    public CapturedOutput(int capBytes) {
        this.capBytes = capBytes;
    }

    public CapturedOutput() {
        this(1 << 20);
    }

    @Override
    public synchronized void onOutput(Stream stream, byte[] data) {
        ByteArrayOutputStream target = stream == Stream.STDERR ? stderr : stdout;
        int keep = Math.max(0, Math.min(data.length, capBytes - target.size()));
        target.write(data, 0, keep);
        dropped += data.length - keep;
        notifyAll();
    }

    @Override
    public void onExit(ExitStatus status) {
        exit.complete(status);
    }

    @Override
    public void onDisconnected(AgentException cause) {
        exit.completeExceptionally(cause);
    }

    public synchronized String stdout() {
        return stdout.toString(StandardCharsets.UTF_8);
    }

    public synchronized String stderr() {
        return stderr.toString(StandardCharsets.UTF_8);
    }

    /** Bytes beyond the cap that were dropped. */
    public synchronized long dropped() {
        return dropped;
    }

    public CompletableFuture<ExitStatus> exit() {
        return exit;
    }

    /** Waits until stdout contains {@code text}; false when {@code timeout} passed first. */
    public synchronized boolean awaitStdout(String text, Duration timeout) throws InterruptedException {
        long deadline = System.nanoTime() + timeout.toNanos();
        while (!stdout().contains(text)) {
            long left = deadline - System.nanoTime();
            if (left <= 0 || exit.isDone() && !stdout().contains(text)) {
                return stdout().contains(text);
            }
            TimeUnit.NANOSECONDS.timedWait(this, Math.min(left, TimeUnit.MILLISECONDS.toNanos(200)));
        }
        return true;
    }

    /** The exit status, waiting up to {@code timeout}. */
    public ExitStatus awaitExit(Duration timeout) throws AgentException, InterruptedException {
        try {
            return exit.get(timeout.toMillis(), TimeUnit.MILLISECONDS);
        } catch (TimeoutException e) {
            throw new AgentTimeoutException("the process did not exit within " + timeout);
        } catch (ExecutionException e) {
            throw e.getCause() instanceof AgentException a ? a : new AgentException("waiting for the exit failed", e.getCause());
        }
    }
}
