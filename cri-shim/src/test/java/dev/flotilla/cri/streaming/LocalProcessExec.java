package dev.flotilla.cri.streaming;

import dev.flotilla.cri.CriException;
import dev.flotilla.cri.backend.AttachBackend;
import dev.flotilla.cri.backend.ExecBackend;
import dev.flotilla.cri.v1.ExecRequest;

import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.io.UncheckedIOException;
import java.util.Arrays;
import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.function.Consumer;

/**
 * An exec backend whose "containers" are this host: the command runs as a local process, so the streaming server's
 * wire protocols are tested natively against real processes (in-guest exec: CriE2E in the lab).
 */
final class LocalProcessExec implements ExecBackend, AttachBackend {
    final List<String> resizes = new CopyOnWriteArrayList<>();
    volatile Process last;
    private final java.util.Map<String, MainProcess> mains = new java.util.concurrent.ConcurrentHashMap<>();

    /** A "container" whose main process runs already: attach joins it (its output from then on, its stdin). */
    private static final class MainProcess {
        final Process process;
        final List<ExecOutput> attached = new CopyOnWriteArrayList<>();

        MainProcess(List<String> command) throws IOException {
            process = new ProcessBuilder(command).start();
            Thread out = Thread.ofVirtual().start(() -> pump(process.getInputStream(), d -> attached.forEach(a -> a.stdout(d))));
            Thread err = Thread.ofVirtual().start(() -> pump(process.getErrorStream(), d -> attached.forEach(a -> a.stderr(d))));
            Thread.ofVirtual().start(() -> {
                try {
                    process.waitFor();
                    out.join();
                    err.join();
                    attached.forEach(a -> a.exited(0)); // an attach ends well however the container ends
                } catch (InterruptedException ignored) {
                    // the test ended
                }
            });
        }
    }

    /** Starts container {@code id}'s main process. */
    void startMain(String id, List<String> command) throws IOException {
        mains.put(id, new MainProcess(command));
    }

    @Override
    public void checkAttach(dev.flotilla.cri.v1.AttachRequest request) {
        if (!mains.containsKey(request.getContainerId())) {
            throw CriException.notFound("no container " + request.getContainerId());
        }
    }

    @Override
    public ExecProcess startAttach(dev.flotilla.cri.v1.AttachRequest request, ExecOutput output) {
        MainProcess main = mains.get(request.getContainerId());
        main.attached.add(output);
        OutputStream stdin = main.process.getOutputStream();
        return new ExecProcess() {
            @Override
            public void stdin(byte[] data) {
                write(stdin, data);
            }

            @Override
            public void closeStdin() {
                // not stdin_once: the container keeps its stdin for the next attach
            }

            @Override
            public void resize(int columns, int rows) {
                resizes.add(columns + "x" + rows);
            }

            @Override
            public void cancel() {
                main.attached.remove(output); // detach; the container runs on
            }
        };
    }

    @Override
    public void checkExec(ExecRequest request) {
        if (request.getContainerId().equals("missing")) {
            throw CriException.notFound("no container missing");
        }
    }

    @Override
    public ExecProcess startExec(ExecRequest request, ExecOutput output) {
        Process process;
        try {
            process = new ProcessBuilder(request.getCmdList()).start();
        } catch (IOException e) {
            throw CriException.failedPrecondition("cannot run " + request.getCmdList() + ": " + e.getMessage());
        }
        last = process;
        Thread out = Thread.ofVirtual().start(() -> pump(process.getInputStream(), output::stdout));
        Thread err = Thread.ofVirtual().start(() -> pump(process.getErrorStream(), output::stderr));
        Thread.ofVirtual().start(() -> {
            try {
                int code = process.waitFor();
                out.join();
                err.join();
                output.exited(code);
            } catch (InterruptedException e) {
                output.failed("interrupted");
            }
        });
        OutputStream stdin = process.getOutputStream();
        return new ExecProcess() {
            @Override
            public void stdin(byte[] data) {
                write(stdin, data);
            }

            @Override
            public void closeStdin() {
                try {
                    stdin.close();
                } catch (IOException ignored) {
                    // already gone
                }
            }

            @Override
            public void resize(int columns, int rows) {
                resizes.add(columns + "x" + rows);
            }

            @Override
            public void cancel() {
                process.destroyForcibly();
            }
        };
    }

    private static void write(OutputStream stdin, byte[] data) {
        try {
            stdin.write(data);
            stdin.flush();
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    private static void pump(InputStream in, Consumer<byte[]> sink) {
        byte[] buffer = new byte[8192];
        try (in) {
            int n;
            while ((n = in.read(buffer)) > 0) {
                sink.accept(Arrays.copyOf(buffer, n));
            }
        } catch (IOException ignored) {
            // the process ended
        }
    }
}
