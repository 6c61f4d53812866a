package dev.flotilla.tests.linux;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.OutputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;

/** Collects a guest's serial console output and lets a test wait for a line to appear. */
final class Console extends OutputStream {
    private final ByteArrayOutputStream bytes = new ByteArrayOutputStream();

    @Override
    public synchronized void write(int b) {
        bytes.write(b);
        notifyAll();
    }

    @Override
    public synchronized void write(byte[] b, int off, int len) {
        bytes.write(b, off, len);
        notifyAll();
    }

    synchronized String text() {
        return bytes.toString(StandardCharsets.UTF_8);
    }

    /** Waits until the output contains {@code needle}; false on timeout. */
    synchronized boolean await(String needle, Duration timeout) throws InterruptedException {
        long deadline = System.nanoTime() + timeout.toNanos();
        while (!text().contains(needle)) {
            long left = deadline - System.nanoTime();
            if (left <= 0) {
                return false;
            }
            wait(Math.max(1, left / 1_000_000));
        }
        return true;
    }

    /** Saves the output under the results directory, so a failed lab run can be read afterwards. */
    void save(String name) {
        try {
            Path dir = GuestArtifacts.results().resolve("consoles");
            Files.createDirectories(dir);
            Files.writeString(dir.resolve(name + ".log"), text());
        } catch (IOException | RuntimeException e) {
            System.err.println("could not save console log " + name + ": " + e);
        }
    }
}
