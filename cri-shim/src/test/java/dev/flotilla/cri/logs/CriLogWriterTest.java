package dev.flotilla.cri.logs;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.time.Instant;
import java.time.InstantSource;
import java.util.List;
import java.util.concurrent.atomic.AtomicReference;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

class CriLogWriterTest {

    private static final Instant T0 = Instant.parse("2026-11-22T03:04:05.000001230Z");

    @TempDir
    Path dir;

    private final AtomicReference<Instant> now = new AtomicReference<>(T0);
    private final InstantSource clock = now::get;

    private CriLogWriter open(Path path, int maxLine) throws IOException {
        return CriLogWriter.open(path, clock, maxLine);
    }

    private static byte[] utf8(String s) {
        return s.getBytes(StandardCharsets.UTF_8);
    }

    private static List<String> lines(Path path) throws IOException {
        return Files.readAllLines(path, StandardCharsets.UTF_8);
    }

    @Test
    void write_completeLine_oneFullRecordWithNanosecondUtcTimestamp() throws IOException {
        Path log = dir.resolve("0.log");
        try (CriLogWriter writer = open(log, 1024)) {
            writer.write(LogStream.STDOUT, utf8("hello world\n"));
        }
        assertEquals(List.of("2026-11-22T03:04:05.000001230Z stdout F hello world"), lines(log));
    }

    @Test
    void write_stderr_taggedStderr() throws IOException {
        Path log = dir.resolve("0.log");
        try (CriLogWriter writer = open(log, 1024)) {
            writer.write(LogStream.STDERR, utf8("oops\n"));
        }
        assertEquals(List.of("2026-11-22T03:04:05.000001230Z stderr F oops"), lines(log));
    }

    @Test
    void write_lineSplitAcrossChunks_heldUntilNewline() throws IOException {
        Path log = dir.resolve("0.log");
        try (CriLogWriter writer = open(log, 1024)) {
            writer.write(LogStream.STDOUT, utf8("hel"));
            assertEquals(0, Files.size(log));
            writer.write(LogStream.STDOUT, utf8("lo\nwor"));
            writer.write(LogStream.STDOUT, utf8("ld\n"));
        }
        assertEquals(List.of("2026-11-22T03:04:05.000001230Z stdout F hello",
                "2026-11-22T03:04:05.000001230Z stdout F world"), lines(log));
    }

    @Test
    void write_lineLongerThanLimit_partialRecordsThenFull() throws IOException {
        Path log = dir.resolve("0.log");
        try (CriLogWriter writer = open(log, 4)) {
            writer.write(LogStream.STDOUT, utf8("abcdefghij\n"));
        }
        assertEquals(List.of("2026-11-22T03:04:05.000001230Z stdout P abcd",
                "2026-11-22T03:04:05.000001230Z stdout P efgh",
                "2026-11-22T03:04:05.000001230Z stdout F ij"), lines(log));
    }

    @Test
    void write_lineExactlyAtLimit_singleFullRecord() throws IOException {
        Path log = dir.resolve("0.log");
        try (CriLogWriter writer = open(log, 4)) {
            writer.write(LogStream.STDOUT, utf8("abcd\n"));
        }
        assertEquals(List.of("2026-11-22T03:04:05.000001230Z stdout F abcd"), lines(log));
    }

    @Test
    void write_emptyLine_fullRecordWithEmptyContent() throws IOException {
        Path log = dir.resolve("0.log");
        try (CriLogWriter writer = open(log, 16)) {
            writer.write(LogStream.STDOUT, utf8("\n"));
        }
        assertEquals(List.of("2026-11-22T03:04:05.000001230Z stdout F "), lines(log));
    }

    @Test
    void write_interleavedStreams_eachStreamKeepsItsOwnPartialLine() throws IOException {
        Path log = dir.resolve("0.log");
        try (CriLogWriter writer = open(log, 64)) {
            writer.write(LogStream.STDOUT, utf8("out-"));
            writer.write(LogStream.STDERR, utf8("err-"));
            writer.write(LogStream.STDOUT, utf8("line\n"));
            writer.write(LogStream.STDERR, utf8("line\n"));
        }
        assertEquals(List.of("2026-11-22T03:04:05.000001230Z stdout F out-line",
                "2026-11-22T03:04:05.000001230Z stderr F err-line"), lines(log));
    }

    @Test
    void write_secondsAdvance_timestampFollowsClock() throws IOException {
        Path log = dir.resolve("0.log");
        try (CriLogWriter writer = open(log, 64)) {
            writer.write(LogStream.STDOUT, utf8("a\n"));
            now.set(Instant.parse("2027-01-01T00:00:00Z"));
            writer.write(LogStream.STDOUT, utf8("b\n"));
        }
        assertEquals(List.of("2026-11-22T03:04:05.000001230Z stdout F a",
                "2027-01-01T00:00:00.000000000Z stdout F b"), lines(log));
    }

    @Test
    void close_unterminatedLine_writtenAsFullRecord() throws IOException {
        Path log = dir.resolve("0.log");
        CriLogWriter writer = open(log, 64);
        writer.write(LogStream.STDOUT, utf8("no newline"));
        writer.close();
        assertEquals(List.of("2026-11-22T03:04:05.000001230Z stdout F no newline"), lines(log));
    }

    @Test
    void reopen_afterKubeletRenamedFile_newRecordsGoToNewFile() throws IOException {
        Path log = dir.resolve("0.log");
        Path rotated = dir.resolve("0.log.20261122-030405");
        try (CriLogWriter writer = open(log, 64)) {
            writer.write(LogStream.STDOUT, utf8("before\npart"));
            Files.move(log, rotated);
            writer.reopen();
            writer.write(LogStream.STDOUT, utf8("ial\nafter\n"));
        }
        assertEquals(List.of("2026-11-22T03:04:05.000001230Z stdout F before"), lines(rotated));
        assertEquals(List.of("2026-11-22T03:04:05.000001230Z stdout F partial",
                "2026-11-22T03:04:05.000001230Z stdout F after"), lines(log));
    }

    @Test
    void open_existingFile_appends() throws IOException {
        Path log = dir.resolve("0.log");
        Files.writeString(log, "earlier record\n");
        try (CriLogWriter writer = open(log, 64)) {
            writer.write(LogStream.STDOUT, utf8("x\n"));
        }
        assertEquals(List.of("earlier record", "2026-11-22T03:04:05.000001230Z stdout F x"), lines(log));
    }

    @Test
    void open_newFile_notWorldReadable() throws IOException {
        Path log = dir.resolve("0.log");
        try (CriLogWriter ignored = open(log, 64)) {
            assertEquals("rw-r-----", PosixFilePermissions.toString(Files.getPosixFilePermissions(log)));
        }
    }

    @Test
    void write_afterClose_failsWithPathInMessage() throws IOException {
        Path log = dir.resolve("0.log");
        CriLogWriter writer = open(log, 64);
        writer.close();
        IOException e = assertThrows(IOException.class, () -> writer.write(LogStream.STDOUT, utf8("x\n")));
        assertTrue(e.getMessage().contains(log.toString()), e.getMessage());
    }

    @Test
    void reopen_directoryGone_failsAndLaterWritesFail() throws IOException {
        Path sub = Files.createDirectory(dir.resolve("c"));
        Path log = sub.resolve("0.log");
        CriLogWriter writer = open(log, 64);
        Files.delete(log);
        Files.delete(sub);
        assertThrows(IOException.class, writer::reopen);
        assertThrows(IOException.class, () -> writer.write(LogStream.STDOUT, utf8("x\n")));
    }

    @Test
    void write_twoStreamsFromTwoThreads_recordsNeverInterleave() throws Exception {
        Path log = dir.resolve("0.log");
        int perThread = 2000;
        try (CriLogWriter writer = open(log, 64)) {
            Thread out = Thread.ofPlatform().start(() -> writeMany(writer, LogStream.STDOUT, "out", perThread));
            Thread err = Thread.ofPlatform().start(() -> writeMany(writer, LogStream.STDERR, "err", perThread));
            out.join();
            err.join();
        }
        List<String> lines = lines(log);
        assertEquals(2 * perThread, lines.size());
        for (String line : lines) {
            assertTrue(line.matches("\\S+ (stdout F out|stderr F err)-\\d+-abcdefghij"), line);
        }
    }

    private static void writeMany(CriLogWriter writer, LogStream stream, String tag, int count) {
        try {
            for (int i = 0; i < count; i++) {
                // Two chunks per line, so a held partial line meets the other thread's writes.
                writer.write(stream, utf8(tag + "-" + i + "-abcde"));
                writer.write(stream, utf8("fghij\n"));
            }
        } catch (IOException e) {
            throw new java.io.UncheckedIOException(e);
        }
    }

    @Test
    void write_randomChunksAndLineLengths_kubeletStyleReaderGetsOriginalLinesBack() throws IOException {
        java.util.Random random = new java.util.Random(42);
        Path log = dir.resolve("0.log");
        List<String> expectedOut = new java.util.ArrayList<>();
        StringBuilder output = new StringBuilder();
        for (int i = 0; i < 300; i++) {
            int length = random.nextInt(3) == 0 ? random.nextInt(40) : random.nextInt(6);
            StringBuilder line = new StringBuilder();
            for (int j = 0; j < length; j++) {
                line.append((char) ('a' + random.nextInt(26)));
            }
            expectedOut.add(line.toString());
            output.append(line).append('\n');
        }
        byte[] bytes = utf8(output.toString());
        try (CriLogWriter writer = open(log, 7)) {
            for (int at = 0; at < bytes.length; ) {
                int n = Math.min(bytes.length - at, 1 + random.nextInt(20));
                writer.write(LogStream.STDOUT, bytes, at, n);
                at += n;
            }
        }
        assertEquals(expectedOut, readLikeKubelet(log, "stdout"));
    }

    /** Joins P records up to the next F record of the same stream, as the kubelet's log reader does. */
    private static List<String> readLikeKubelet(Path log, String stream) throws IOException {
        List<String> lines = new java.util.ArrayList<>();
        StringBuilder partial = new StringBuilder();
        for (String record : lines(log)) {
            String[] parts = record.split(" ", 4);
            assertEquals(4, parts.length, record);
            java.time.Instant.parse(parts[0]);
            if (!parts[1].equals(stream)) {
                continue;
            }
            partial.append(parts[3]);
            if (parts[2].equals("F")) {
                lines.add(partial.toString());
                partial.setLength(0);
            } else {
                assertEquals("P", parts[2], record);
                assertEquals(7, parts[3].length(), "a partial record carries a full line limit: " + record);
            }
        }
        assertEquals("", partial.toString(), "no partial line left unterminated");
        return lines;
    }
}
