package dev.flotilla.cri.logs;

import java.io.Closeable;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.nio.file.attribute.PosixFilePermissions;
import java.time.Instant;
import java.time.InstantSource;
import java.time.LocalDateTime;
import java.time.ZoneOffset;
import java.util.Objects;
import java.util.Set;

/**
 * Writes a container's stdout and stderr to the kubelet's log file in the CRI log format, one record per line:
 * <pre>
 * 2026-11-22T03:04:05.123456789Z stdout F hello world
 * </pre>
 * timestamp (RFC 3339, UTC, nanoseconds), stream, tag, content. Tag {@code F} ends a line; a line longer than the
 * line limit is cut into {@code P} (partial) records followed by a final {@code F} record, which the kubelet joins
 * again. The newline itself is not written as content.
 *
 * <p>Output arrives in arbitrary chunks (whatever the guest agent forwarded); an unterminated line is held per
 * stream until its newline, the line limit, {@link #flush} or {@link #close}. Each record goes to the file in one
 * append-mode write, so stdout and stderr records never interleave inside a line.
 *
 * <p>Rotation: the kubelet renames the file and then calls ReopenContainerLog, which calls {@link #reopen}; the
 * next record goes to a new file at the same path. Held partial lines carry over to the new file.
 *
 * <p>Thread-safe. Records are formatted into buffers allocated once per writer; per record only the clock's
 * {@link Instant} is created (and the date text is recomputed once per second).
 */
public final class CriLogWriter implements Closeable {

    /** Longest content of one record, as containerd uses; longer lines become several P records. */
    public static final int DEFAULT_MAX_LINE_BYTES = 16 * 1024;

    private static final byte PARTIAL = 'P';
    private static final byte FULL = 'F';
    // "2026-11-22T03:04:05" + ".123456789Z" + " stdout " + "P " + content + "\n"
    private static final int PREFIX_MAX = 19 + 11 + 8 + 2;
    private static final Set<java.nio.file.attribute.PosixFilePermission> FILE_MODE =
            PosixFilePermissions.fromString("rw-r-----");

    private final Path path;
    private final InstantSource clock;
    private final int maxLineBytes;
    private final byte[][] pending;
    private final int[] pendingLength;
    private final ByteBuffer record;
    private final byte[] secondText = new byte[19];
    private long formattedSecond = Long.MIN_VALUE;
    private FileChannel file;

    private CriLogWriter(Path path, InstantSource clock, int maxLineBytes) throws IOException {
        this.path = Objects.requireNonNull(path, "path");
        this.clock = Objects.requireNonNull(clock, "clock");
        if (maxLineBytes < 1) {
            throw new IllegalArgumentException("log line limit must be at least one byte, not " + maxLineBytes);
        }
        this.maxLineBytes = maxLineBytes;
        this.pending = new byte[LogStream.values().length][maxLineBytes];
        this.pendingLength = new int[LogStream.values().length];
        this.record = ByteBuffer.allocate(PREFIX_MAX + maxLineBytes + 1);
        this.file = openFile(path);
    }

    /** Opens (creating if needed, appending if present) the log file at {@code path}; its directory must exist. */
    public static CriLogWriter open(Path path) throws IOException {
        return open(path, InstantSource.system(), DEFAULT_MAX_LINE_BYTES);
    }

    public static CriLogWriter open(Path path, InstantSource clock, int maxLineBytes) throws IOException {
        return new CriLogWriter(path, clock, maxLineBytes);
    }

    public Path path() {
        return path;
    }

    /** Appends output of {@code stream}; complete lines are written at once, the rest is held. */
    public synchronized void write(LogStream stream, byte[] data, int offset, int length) throws IOException {
        Objects.checkFromIndexSize(offset, length, data.length);
        ensureOpen();
        int s = stream.ordinal();
        byte[] line = pending[s];
        int end = offset + length;
        int at = offset;
        while (at < end) {
            int newline = indexOf(data, (byte) '\n', at, end);
            int contentEnd = newline < 0 ? end : newline;
            while (at < contentEnd) {
                if (pendingLength[s] == maxLineBytes) {
                    emit(stream, PARTIAL, line, pendingLength[s]);
                    pendingLength[s] = 0;
                }
                int n = Math.min(contentEnd - at, maxLineBytes - pendingLength[s]);
                System.arraycopy(data, at, line, pendingLength[s], n);
                pendingLength[s] += n;
                at += n;
            }
            if (newline >= 0) {
                emit(stream, FULL, line, pendingLength[s]);
                pendingLength[s] = 0;
                at = newline + 1;
            }
        }
    }

    public void write(LogStream stream, byte[] data) throws IOException {
        write(stream, data, 0, data.length);
    }

    /** Writes a held unterminated line of {@code stream} as a complete record (the stream ended without newline). */
    public synchronized void flush(LogStream stream) throws IOException {
        ensureOpen();
        int s = stream.ordinal();
        if (pendingLength[s] > 0) {
            emit(stream, FULL, pending[s], pendingLength[s]);
            pendingLength[s] = 0;
        }
    }

    /**
     * Closes the current file and opens {@code path} again, creating a new file after the kubelet renamed the
     * old one away. If the new file cannot be opened the writer stays closed and later writes fail.
     */
    public synchronized void reopen() throws IOException {
        ensureOpen();
        FileChannel old = file;
        file = null;
        old.close();
        file = openFile(path);
    }

    /** Writes held partial lines as complete records and closes the file. Idempotent. */
    @Override
    public synchronized void close() throws IOException {
        if (file == null) {
            return;
        }
        try {
            for (LogStream stream : LogStream.values()) {
                flush(stream);
            }
        } finally {
            file.close();
            file = null;
        }
    }

    private void emit(LogStream stream, byte tag, byte[] content, int length) throws IOException {
        ByteBuffer out = record;
        out.clear();
        putTimestamp(out, clock.instant());
        out.put((byte) ' ').put(stream.tag()).put((byte) ' ').put(tag).put((byte) ' ');
        out.put(content, 0, length).put((byte) '\n');
        out.flip();
        while (out.hasRemaining()) {
            file.write(out);
        }
    }

    private void putTimestamp(ByteBuffer out, Instant now) {
        long second = now.getEpochSecond();
        if (second != formattedSecond) {
            LocalDateTime t = LocalDateTime.ofEpochSecond(second, 0, ZoneOffset.UTC);
            int i = 0;
            i = digits(secondText, i, t.getYear(), 4);
            secondText[i++] = '-';
            i = digits(secondText, i, t.getMonthValue(), 2);
            secondText[i++] = '-';
            i = digits(secondText, i, t.getDayOfMonth(), 2);
            secondText[i++] = 'T';
            i = digits(secondText, i, t.getHour(), 2);
            secondText[i++] = ':';
            i = digits(secondText, i, t.getMinute(), 2);
            secondText[i++] = ':';
            digits(secondText, i, t.getSecond(), 2);
            formattedSecond = second;
        }
        out.put(secondText).put((byte) '.');
        int nanos = now.getNano();
        for (int divisor = 100_000_000; divisor > 0; divisor /= 10) {
            out.put((byte) ('0' + nanos / divisor % 10));
        }
        out.put((byte) 'Z');
    }

    private static int digits(byte[] into, int at, int value, int width) {
        for (int i = width - 1; i >= 0; i--) {
            into[at + i] = (byte) ('0' + value % 10);
            value /= 10;
        }
        return at + width;
    }

    private static int indexOf(byte[] data, byte b, int from, int to) {
        for (int i = from; i < to; i++) {
            if (data[i] == b) {
                return i;
            }
        }
        return -1;
    }

    private void ensureOpen() throws IOException {
        if (file == null) {
            throw new IOException("container log " + path + " is closed");
        }
    }

    private static FileChannel openFile(Path path) throws IOException {
        if (!Files.exists(path)) {
            try {
                Files.createFile(path, PosixFilePermissions.asFileAttribute(FILE_MODE));
            } catch (java.nio.file.FileAlreadyExistsException raced) {
                // Someone created it between the check and here: append to it.
            }
        }
        return FileChannel.open(path, StandardOpenOption.WRITE, StandardOpenOption.APPEND);
    }
}
