package dev.flotilla.controlplane.testing;

import java.io.IOException;
import java.net.ServerSocket;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;

/**
 * The packaged control plane ({@code quarkus-run.jar}, path in the system property {@code flotilla.app.jar}) run as
 * a separate process for integration tests, with its output in a log file.
 */
public final class ControlPlaneProcess implements AutoCloseable {
    private static final HttpClient HTTP = HttpClient.newHttpClient();

    private final String name;
    private final Process process;
    private final Path log;
    private final int port;

    private ControlPlaneProcess(String name, Process process, Path log, int port) {
        this.name = name;
        this.process = process;
        this.log = log;
        this.port = port;
    }

    /**
     * Starts the service on a free port with the given system properties; call {@link #awaitReady} before use.
     *
     * @param logDirectory where {@code NAME.log} is written
     */
    public static ControlPlaneProcess start(String name, Path logDirectory, Map<String, String> properties)
            throws IOException {
        return start(name, logDirectory, freePort(), properties);
    }

    /** Like {@link #start(String, Path, Map)} on a given port (a restarted service keeps its address). */
    public static ControlPlaneProcess start(String name, Path logDirectory, int port, Map<String, String> properties)
            throws IOException {
        String jar = System.getProperty("flotilla.app.jar");
        if (jar == null || !Files.exists(Path.of(jar))) {
            throw new IllegalStateException("the packaged application is missing: " + jar + " (run mvn package first)");
        }
        List<String> command = new ArrayList<>();
        command.add(Path.of(System.getProperty("java.home"), "bin", "java").toString());
        command.add("-Dquarkus.http.port=" + port);
        properties.forEach((key, value) -> command.add("-D" + key + "=" + value));
        command.add("-jar");
        command.add(jar);
        Path log = logDirectory.resolve(name + ".log");
        Process process = new ProcessBuilder(command).redirectErrorStream(true).redirectOutput(log.toFile()).start();
        return new ControlPlaneProcess(name, process, log, port);
    }

    public String baseUrl() {
        return "http://127.0.0.1:" + port;
    }

    public String name() {
        return name;
    }

    /** Waits until {@code /q/health/ready} answers 200; fails with the log if the process exits or times out. */
    public ControlPlaneProcess awaitReady(Duration timeout) throws Exception {
        long deadline = System.nanoTime() + timeout.toNanos();
        while (System.nanoTime() < deadline) {
            if (!process.isAlive()) {
                throw new AssertionError("control plane " + name + " exited with " + process.exitValue() + "; log:\n" + log());
            }
            if (status(baseUrl() + "/q/health/ready") == 200) {
                return this;
            }
            Thread.sleep(200);
        }
        process.destroyForcibly();
        throw new AssertionError("control plane " + name + " was not ready within " + timeout.toSeconds() + " s; log:\n"
                + log());
    }

    /**
     * Sends SIGTERM and waits for the exit; fails with a thread dump if it takes longer than {@code timeout}.
     *
     * @return how long the process took to exit
     */
    public Duration stop(Duration timeout) throws Exception {
        long start = System.nanoTime();
        process.destroy(); // SIGTERM: Quarkus shuts down, then an embedded PostgreSQL is stopped
        if (!process.waitFor(timeout.toMillis(), TimeUnit.MILLISECONDS)) {
            Process jstack = new ProcessBuilder(Path.of(System.getProperty("java.home"), "bin", "jstack").toString(),
                    Long.toString(process.pid())).redirectErrorStream(true).start();
            String threads = new String(jstack.getInputStream().readAllBytes());
            process.destroyForcibly();
            throw new AssertionError("control plane " + name + " did not stop within " + timeout.toSeconds()
                    + " s of SIGTERM; threads:\n" + threads + "\nlog:\n" + log());
        }
        return Duration.ofNanos(System.nanoTime() - start);
    }

    public String log() throws IOException {
        return Files.exists(log) ? Files.readString(log) : "(no log)";
    }

    @Override
    public void close() {
        if (process.isAlive()) {
            process.destroyForcibly();
        }
    }

    private static int status(String url) {
        try {
            return HTTP.send(HttpRequest.newBuilder(URI.create(url)).timeout(Duration.ofSeconds(2)).build(),
                    HttpResponse.BodyHandlers.discarding()).statusCode();
        } catch (IOException e) {
            return -1;
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            return -1;
        }
    }

    public static int freePort() throws IOException {
        try (ServerSocket socket = new ServerSocket(0)) {
            return socket.getLocalPort();
        }
    }
}
