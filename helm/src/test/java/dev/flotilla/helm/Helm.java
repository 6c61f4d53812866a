package dev.flotilla.helm;

import java.io.IOException;
import java.io.InputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;

/**
 * The real helm binary (static helm 4 from the npm package scripts/fetch-helm.sh fetches into the cache), run on
 * the chart in helm/flotilla.
 */
final class Helm {
    /** Release name and namespace every rendering uses, so golden files are stable. */
    static final String RELEASE = "flotilla";
    static final String NAMESPACE = "flotilla-system";

    private static Path binary;

    private Helm() {
    }

    static Path home() {
        return Path.of(System.getProperty("flotilla.home", "..")).toAbsolutePath().normalize();
    }

    static Path chart() {
        return home().resolve("helm/flotilla");
    }

    /** -Dflotilla.helm=PATH, else the cached binary, fetched on first use. */
    static synchronized Path binary() {
        if (binary == null) {
            String configured = System.getProperty("flotilla.helm");
            if (configured != null && !configured.isBlank()) {
                binary = Path.of(configured);
            } else {
                Result fetched = exec(List.of(home().resolve("scripts/fetch-helm.sh").toString()), 600);
                if (fetched.exitCode() != 0) {
                    throw new IllegalStateException("scripts/fetch-helm.sh failed (exit " + fetched.exitCode() + "): "
                            + fetched.stderr());
                }
                binary = Path.of(fetched.stdout().strip());
            }
            if (!Files.isExecutable(binary)) {
                throw new IllegalStateException("helm binary " + binary + " is not executable");
            }
        }
        return binary;
    }

    record Result(int exitCode, String stdout, String stderr) {
    }

    static Result run(String... args) {
        List<String> command = new ArrayList<>();
        command.add(binary().toString());
        command.addAll(List.of(args));
        return exec(command, 120);
    }

    /** `helm template` of the chart with one values file; fails the test with helm's message when helm does. */
    static String template(Path values) {
        Result result = templateResult(values);
        if (result.exitCode() != 0) {
            throw new AssertionError("helm template with " + values.getFileName() + " failed: " + result.stderr());
        }
        return result.stdout();
    }

    static Result templateResult(Path values) {
        return run("template", RELEASE, chart().toString(), "--namespace", NAMESPACE, "--include-crds",
                "--values", values.toString());
    }

    private static Result exec(List<String> command, int timeoutSeconds) {
        try {
            Process process = new ProcessBuilder(command).start();
            process.getOutputStream().close();
            CompletableFuture<String> out = drain(process.getInputStream());
            CompletableFuture<String> err = drain(process.getErrorStream());
            if (!process.waitFor(timeoutSeconds, TimeUnit.SECONDS)) {
                process.destroyForcibly();
                throw new IllegalStateException(String.join(" ", command) + " did not end within " + timeoutSeconds + " s");
            }
            return new Result(process.exitValue(), out.join(), err.join());
        } catch (IOException e) {
            throw new IllegalStateException("cannot run " + String.join(" ", command) + ": " + e.getMessage(), e);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new IllegalStateException("interrupted while running " + command.getFirst(), e);
        }
    }

    private static CompletableFuture<String> drain(InputStream stream) {
        return CompletableFuture.supplyAsync(() -> {
            try (stream) {
                return new String(stream.readAllBytes(), StandardCharsets.UTF_8);
            } catch (IOException e) {
                return "(output unreadable: " + e.getMessage() + ")";
            }
        });
    }
}
