package dev.flotilla.node.state;

import com.fasterxml.jackson.databind.ObjectMapper;
import dev.flotilla.node.sandbox.SandboxRecord;
import org.jboss.logging.Logger;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.DirectoryStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

/**
 * Sandbox records on the node's disk, one JSON file each, replaced atomically ({@link AtomicFiles}). An
 * unreadable file (a bug, or a disk error) is moved aside with a {@code .corrupt} suffix and reported, so it
 * neither stops the agent nor disappears silently.
 */
public final class StateStore {
    private static final Logger LOG = Logger.getLogger(StateStore.class);

    private final Path dir;
    private final ObjectMapper json;
    private final boolean durable;

    public StateStore(Path stateDir, ObjectMapper json) {
        this(stateDir, json, true);
    }

    /** {@code durable}: fsync each record and the directory (see {@link AtomicFiles#write(Path, byte[], boolean)}). */
    public StateStore(Path stateDir, ObjectMapper json, boolean durable) {
        this.dir = stateDir.resolve("sandboxes");
        this.json = json;
        this.durable = durable;
        try {
            Files.createDirectories(dir);
        } catch (IOException e) {
            throw new UncheckedIOException("cannot create the state directory " + dir + ": " + e.getMessage(), e);
        }
    }

    public void save(SandboxRecord record) {
        save(record, true);
    }

    /**
     * {@code important}: a write whose loss in a host crash would matter (a new sandbox); others (state changes)
     * are atomic but never fsynced: a host crash ends every VM anyway, and the restart reports them lost.
     */
    public void save(SandboxRecord record, boolean important) {
        Path file = file(record.spec().id());
        try {
            AtomicFiles.write(file, json.writeValueAsBytes(record), durable && important);
        } catch (IOException e) {
            throw new UncheckedIOException("cannot persist sandbox " + record.spec().id() + " to " + file + ": " + e.getMessage(), e);
        }
    }

    public void delete(String sandboxId) {
        try {
            Files.deleteIfExists(file(sandboxId));
        } catch (IOException e) {
            throw new UncheckedIOException("cannot remove the record of sandbox " + sandboxId + ": " + e.getMessage(), e);
        }
    }

    public List<SandboxRecord> loadAll() {
        List<SandboxRecord> records = new ArrayList<>();
        try (DirectoryStream<Path> files = Files.newDirectoryStream(dir, "*.json")) {
            for (Path f : files) {
                try {
                    SandboxRecord r = json.readValue(f.toFile(), SandboxRecord.class);
                    if (r.spec() == null || r.spec().id() == null) {
                        throw new IOException("the record has no sandbox id");
                    }
                    records.add(r);
                } catch (IOException | RuntimeException e) {
                    Path aside = f.resolveSibling(f.getFileName() + ".corrupt");
                    LOG.errorf("sandbox record %s is unreadable (%s); moved to %s", f, e.getMessage(), aside);
                    Files.move(f, aside, java.nio.file.StandardCopyOption.REPLACE_EXISTING);
                }
            }
        } catch (IOException e) {
            throw new UncheckedIOException("cannot read the state directory " + dir + ": " + e.getMessage(), e);
        }
        return records;
    }

    public Path directory() {
        return dir;
    }

    /** Ids are validated as DNS-label-like before they get here, so they are safe file names. */
    private Path file(String sandboxId) {
        return dir.resolve(sandboxId + ".json");
    }
}
