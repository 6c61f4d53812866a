package dev.flotilla.node.state;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.SerializationFeature;
import com.fasterxml.jackson.datatype.jsr310.JavaTimeModule;
import dev.flotilla.contract.v1.VmState;
import dev.flotilla.node.sandbox.SandboxRecord;
import dev.flotilla.node.sandbox.SandboxSpec;
import dev.flotilla.node.vm.GuestKind;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Instant;
import java.util.List;
import java.util.Map;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

class StateStoreTest {
    private final ObjectMapper json = new ObjectMapper().registerModule(new JavaTimeModule())
            .disable(SerializationFeature.WRITE_DATES_AS_TIMESTAMPS);

    private static SandboxRecord record(String id, VmState state) {
        SandboxSpec spec = new SandboxSpec(id, "n-" + id, GuestKind.TINY, null, List.of(), 1, 16, Map.of("a", "b"), 3, false, null);
        return new SandboxRecord(SandboxRecord.VERSION, spec, state, null, Instant.parse("2026-11-22T00:00:00Z"),
                null, null, 5L, "instance-1", new SandboxRecord.NetAttachment("flt0a000002", "10.0.0.2", 24, "10.0.0.1", "02:46:4c:00:00:02"));
    }

    @Test
    void save_thenLoad_roundTripsTheRecord(@TempDir Path dir) {
        StateStore store = new StateStore(dir, json);
        store.save(record("s1", VmState.RUNNING));
        assertEquals(List.of(record("s1", VmState.RUNNING)), store.loadAll());
    }

    @Test
    void save_again_replacesTheRecordAndLeavesNoTemporaryFile(@TempDir Path dir) throws IOException {
        StateStore store = new StateStore(dir, json);
        store.save(record("s1", VmState.RUNNING));
        store.save(record("s1", VmState.STOPPED));
        assertEquals(VmState.STOPPED, store.loadAll().getFirst().state());
        try (var files = Files.list(store.directory())) {
            assertEquals(List.of("s1.json"), files.map(f -> f.getFileName().toString()).toList());
        }
    }

    @Test
    void load_corruptRecord_movesItAsideAndLoadsTheRest(@TempDir Path dir) throws IOException {
        StateStore store = new StateStore(dir, json);
        store.save(record("good", VmState.RUNNING));
        Files.writeString(store.directory().resolve("bad.json"), "{\"spec\": {");
        assertEquals(1, store.loadAll().size());
        assertTrue(Files.exists(store.directory().resolve("bad.json.corrupt")));
    }

    @Test
    void delete_removesTheRecord(@TempDir Path dir) {
        StateStore store = new StateStore(dir, json);
        store.save(record("s1", VmState.RUNNING));
        store.delete("s1");
        assertTrue(store.loadAll().isEmpty());
    }
}
