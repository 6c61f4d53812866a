package dev.flotilla.node.network;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.util.List;
import java.util.concurrent.TimeUnit;

/** Runs one host tool (ip, bridge, nft) and turns a failure into a sentence that names the command and its stderr. */
public final class HostCommand {
    private HostCommand() {
    }

    public record Result(int exitCode, String output) {
    }

    public static Result run(List<String> command, String input) {
        ProcessBuilder pb = new ProcessBuilder(command).redirectErrorStream(true);
        try {
            Process p = pb.start();
            if (input != null) {
                p.getOutputStream().write(input.getBytes(StandardCharsets.UTF_8));
            }
            p.getOutputStream().close();
            String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8).strip();
            if (!p.waitFor(30, TimeUnit.SECONDS)) {
                p.destroyForcibly();
                throw new NetworkException("'" + String.join(" ", command) + "' did not finish within 30 s");
            }
            return new Result(p.exitValue(), out);
        } catch (IOException e) {
            throw new NetworkException("cannot run '" + String.join(" ", command) + "': " + e.getMessage());
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new NetworkException("interrupted while running '" + String.join(" ", command) + "'");
        }
    }

    public static String check(List<String> command) {
        return check(command, null);
    }

    public static String check(List<String> command, String input) {
        Result r = run(command, input);
        if (r.exitCode() != 0) {
            throw new NetworkException("'" + String.join(" ", command) + "' failed (exit " + r.exitCode() + "): " + r.output());
        }
        return r.output();
    }

    public static class NetworkException extends RuntimeException {
        NetworkException(String message) {
            super(message);
        }
    }
}
