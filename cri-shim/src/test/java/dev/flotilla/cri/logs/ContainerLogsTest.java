package dev.flotilla.cri.logs;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

class ContainerLogsTest {

    @TempDir
    Path dir;

    @Test
    void reopen_unknownContainer_returnsFalse() throws IOException {
        assertFalse(new ContainerLogs().reopen("c1"));
    }

    @Test
    void open_twiceForOneContainer_refused() throws IOException {
        ContainerLogs logs = new ContainerLogs();
        logs.open("c1", dir.resolve("a.log"));
        assertThrows(IllegalStateException.class, () -> logs.open("c1", dir.resolve("b.log")));
    }

    @Test
    void close_heldLine_flushedAndForgotten() throws IOException {
        ContainerLogs logs = new ContainerLogs();
        Path log = dir.resolve("a.log");
        logs.open("c1", log).write(LogStream.STDOUT, "tail".getBytes(StandardCharsets.UTF_8));
        logs.close("c1");
        assertTrue(Files.readString(log).endsWith(" stdout F tail\n"));
        assertEquals(java.util.Optional.empty(), logs.find("c1"));
    }
}
