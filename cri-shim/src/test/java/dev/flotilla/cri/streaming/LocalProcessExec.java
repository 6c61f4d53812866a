package dev.flotilla.cri.streaming;

import dev.flotilla.cri.CriException;
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
final class LocalProcessExec implements ExecBackend {
    final List<String> resizes = new CopyOnWriteArrayList<>();
    volatile Process last;

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
                try {
                    stdin.write(data);
                    stdin.flush();
                } catch (IOException e) {
                    throw new UncheckedIOException(e);
                }
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
