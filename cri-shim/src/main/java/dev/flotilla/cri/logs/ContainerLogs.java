package dev.flotilla.cri.logs;

import java.io.IOException;
import java.nio.file.Path;
import java.util.Optional;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ConcurrentMap;

/**
 * The open CRI log writers of this node, by container id. The container backend opens a container's writer when
 * the container starts and closes it when its output ends; ReopenContainerLog finds it here.
 */
public final class ContainerLogs {

    private final ConcurrentMap<String, CriLogWriter> writers = new ConcurrentHashMap<>();

    /** Opens the log of a starting container. A container has at most one open log. */
    public CriLogWriter open(String containerId, Path logPath) throws IOException {
        CriLogWriter writer = CriLogWriter.open(logPath);
        if (writers.putIfAbsent(containerId, writer) != null) {
            writer.close();
            throw new IllegalStateException("container " + containerId + " already has an open log");
        }
        return writer;
    }

    /** Registers a writer opened elsewhere (e.g. with a test clock). */
    public void register(String containerId, CriLogWriter writer) {
        if (writers.putIfAbsent(containerId, writer) != null) {
            throw new IllegalStateException("container " + containerId + " already has an open log");
        }
    }

    public Optional<CriLogWriter> find(String containerId) {
        return Optional.ofNullable(writers.get(containerId));
    }

    /** Reopens a container's log after rotation; false if the container has no open log (it is not running). */
    public boolean reopen(String containerId) throws IOException {
        CriLogWriter writer = writers.get(containerId);
        if (writer == null) {
            return false;
        }
        writer.reopen();
        return true;
    }

    /** Flushes and closes a container's log, if open. */
    public void close(String containerId) throws IOException {
        CriLogWriter writer = writers.remove(containerId);
        if (writer != null) {
            writer.close();
        }
    }
}
