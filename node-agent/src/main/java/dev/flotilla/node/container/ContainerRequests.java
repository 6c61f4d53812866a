package dev.flotilla.node.container;

import java.util.List;

/** Request and answer bodies of the container endpoints. */
public final class ContainerRequests {
    private ContainerRequests() {}

    /** Create a container: {@code command} replaces the image's Cmd when given; {@code env} adds or overrides. */
    public record Create(String id, List<String> command, List<String> env, Boolean start) {
    }

    /** A signal number (1-64), e.g. 15 for SIGTERM, 9 for SIGKILL. */
    public record Signal(Integer signal) {
    }

    /** Run {@code command} in the container and wait for it (up to {@code timeoutSeconds}, default 30). */
    public record Exec(String id, List<String> command, Integer timeoutSeconds) {
    }

    /** A container as the API shows it; exit fields are null while it runs. */
    public record View(String id, List<String> args, boolean started, boolean running, Integer exitCode, Integer signal,
                       long droppedLogBytes) {
    }

    /** A finished exec. */
    public record ExecResult(String id, int exitCode, int signal, String stdout, String stderr) {
    }
}
