package dev.flotilla.cri.streaming;

import dev.flotilla.cri.CriException;
import dev.flotilla.cri.JsonText;
import dev.flotilla.cri.backend.AttachBackend;
import dev.flotilla.cri.backend.ExecBackend;
import dev.flotilla.cri.v1.AttachRequest;
import dev.flotilla.cri.v1.ExecRequest;

import java.util.List;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.RejectedExecutionException;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.logging.Level;
import java.util.logging.Logger;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * One exec or attach between a connected client and the backend, whatever the wire protocol: the client's input goes
 * to the process in order on a virtual thread of its own (the backend may block), the process's output and end go to
 * the {@link Transport}. The end is reported once, as the Kubernetes {@code Status} the v4/v5 channel protocols carry
 * on their error stream.
 */
final class ExecSession implements ExecBackend.ExecOutput {
    private static final Logger LOG = Logger.getLogger(ExecSession.class.getName());
    private static final Pattern SIZE = Pattern.compile("\"(Width|Height)\"\\s*:\\s*(\\d+)");

    /** The wire side: called from any thread, must not block. */
    interface Transport {
        void stdout(byte[] data);

        void stderr(byte[] data);

        /** Sends the final status and closes the connection. */
        void finish(String statusJson);
    }

    /** Which streams the client asked for. */
    record Streams(boolean stdin, boolean stdout, boolean stderr, boolean tty) {
    }

    /** Starts the process (exec) or joins it (attach) once the client is connected. */
    interface Starter {
        ExecBackend.ExecProcess start(ExecBackend.ExecOutput output);
    }

    private final Starter starter;
    private final Streams streams;
    private final String what;
    private final List<String> command;
    private volatile Transport transport;
    private final ExecutorService input = Executors.newSingleThreadExecutor(Thread.ofVirtual().name("cri-exec-input").factory());
    private final AtomicBoolean started = new AtomicBoolean();
    private final AtomicBoolean finished = new AtomicBoolean();
    private volatile ExecBackend.ExecProcess process;

    static ExecSession exec(ExecBackend backend, ExecRequest request) {
        return new ExecSession(output -> backend.startExec(request, output), new Streams(request.getStdin(),
                request.getStdout(), request.getStderr(), request.getTty()),
                "exec in container " + request.getContainerId(), request.getCmdList());
    }

    static ExecSession attach(AttachBackend backend, AttachRequest request) {
        return new ExecSession(output -> backend.startAttach(request, output), new Streams(request.getStdin(),
                request.getStdout(), request.getStderr(), request.getTty()),
                "attach to container " + request.getContainerId(), List.of("attach"));
    }

    ExecSession(Starter starter, Streams streams, String what, List<String> command) {
        this.starter = starter;
        this.streams = streams;
        this.what = what;
        this.command = List.copyOf(command);
    }

    /** The wire side, set once before {@link #start}. */
    void transport(Transport wire) {
        this.transport = wire;
    }

    Streams streams() {
        return streams;
    }

    /** Starts the command (once every stream the request asked for is connected). */
    void start() {
        if (!started.compareAndSet(false, true)) {
            return;
        }
        input.execute(() -> {
            try {
                process = starter.start(this);
            } catch (CriException e) {
                end(failureStatus(e.getMessage()));
            } catch (RuntimeException e) {
                LOG.log(Level.WARNING, what + " could not start", e);
                end(failureStatus("the command could not start: " + e));
            }
        });
    }

    /** The client's input, in order; {@code then} runs once it was handed over (to read more from the client). */
    void stdin(byte[] data, Runnable then) {
        onInput(() -> process.stdin(data), then);
    }

    void closeStdin() {
        onInput(() -> process.closeStdin(), null);
    }

    /**
     * A terminal size as the clients send it, {@code {"Width":80,"Height":24}} (the resize channel or stream); sizes
     * that are not two positive numbers are ignored.
     */
    void resize(String json) {
        int width = 0;
        int height = 0;
        Matcher m = SIZE.matcher(json);
        while (m.find()) {
            int value;
            try {
                value = (int) Math.min(Integer.MAX_VALUE, Long.parseLong(m.group(2)));
            } catch (NumberFormatException tooLong) {
                value = Integer.MAX_VALUE; // out of range: ignored below, not a reason to drop the session
            }
            if (m.group(1).equals("Width")) {
                width = value;
            } else {
                height = value;
            }
        }
        resize(width, height);
    }

    void resize(int columns, int rows) {
        if (columns > 0 && rows > 0 && columns <= 65535 && rows <= 65535) {
            onInput(() -> process.resize(columns, rows), null);
        }
    }

    /** The client went away: stop the command if it still runs. */
    void clientGone() {
        if (finished.compareAndSet(false, true)) {
            try {
                // After startExec, on the same thread: a command still starting is cancelled once it started.
                input.execute(() -> {
                    if (process != null) {
                        try {
                            process.cancel();
                        } catch (RuntimeException e) {
                            LOG.log(Level.FINE, "cancelling an exec failed: " + e.getMessage());
                        }
                    }
                });
            } catch (RejectedExecutionException alreadyShutDown) {
                // the command ended meanwhile
            }
            input.shutdown();
        }
    }

    private void onInput(Runnable action, Runnable then) {
        try {
            input.execute(() -> {
                try {
                    if (process != null && !finished.get()) {
                        action.run();
                    }
                } catch (RuntimeException e) {
                    LOG.log(Level.FINE, "exec input dropped: " + e.getMessage());
                } finally {
                    if (then != null) {
                        then.run();
                    }
                }
            });
        } catch (RejectedExecutionException ended) {
            if (then != null) {
                then.run();
            }
        }
    }

    @Override
    public void stdout(byte[] data) {
        if (!finished.get()) {
            transport.stdout(data);
        }
    }

    @Override
    public void stderr(byte[] data) {
        if (!finished.get()) {
            transport.stderr(data);
        }
    }

    @Override
    public void exited(int exitCode) {
        end(exitCode == 0 ? SUCCESS : exitStatus(exitCode, command));
    }

    @Override
    public void failed(String message) {
        end(failureStatus(message));
    }

    private void end(String status) {
        if (finished.compareAndSet(false, true)) {
            input.shutdown();
            transport.finish(status);
        }
    }

    // ---- the Status object (k8s.io/apimachinery metav1.Status) the client decodes from the error stream ----

    static final String SUCCESS = "{\"metadata\":{},\"status\":\"Success\"}";

    /** kubectl turns the ExitCode cause into its own exit code. */
    static String exitStatus(int exitCode, List<String> command) {
        return "{\"metadata\":{},\"status\":\"Failure\",\"message\":" + JsonText.quote("command terminated with "
                + "non-zero exit code: error executing command " + command + ", exit code " + exitCode)
                + ",\"reason\":\"NonZeroExitCode\",\"details\":{\"causes\":[{\"reason\":\"ExitCode\",\"message\":\""
                + exitCode + "\"}]}}";
    }

    static String failureStatus(String message) {
        return "{\"metadata\":{},\"status\":\"Failure\",\"message\":" + JsonText.quote(message)
                + ",\"reason\":\"InternalError\",\"code\":500}";
    }
}
