package dev.flotilla.images.testsupport;

import org.apache.commons.compress.archivers.tar.TarArchiveEntry;
import org.apache.commons.compress.archivers.tar.TarArchiveOutputStream;
import org.apache.commons.compress.archivers.tar.TarConstants;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.attribute.FileTime;
import java.time.Instant;
import java.util.Map;

/** Builds layer tars in memory, including the hostile ones no honest tool would write. */
public final class TarBuilder {
    public static final Instant MTIME = Instant.parse("2024-05-01T12:00:00Z");

    private final ByteArrayOutputStream bytes = new ByteArrayOutputStream();
    private final TarArchiveOutputStream tar = new TarArchiveOutputStream(bytes);

    public TarBuilder() {
        tar.setLongFileMode(TarArchiveOutputStream.LONGFILE_POSIX);
        tar.setBigNumberMode(TarArchiveOutputStream.BIGNUMBER_POSIX);
    }

    public TarBuilder dir(String name, int mode) {
        TarArchiveEntry entry = new TarArchiveEntry(name.endsWith("/") ? name : name + "/", TarConstants.LF_DIR);
        entry.setMode(mode);
        return put(entry, null);
    }

    public TarBuilder file(String name, String content) {
        return file(name, content.getBytes(StandardCharsets.UTF_8), 0644, 0, 0);
    }

    public TarBuilder file(String name, byte[] content, int mode, int uid, int gid) {
        TarArchiveEntry entry = new TarArchiveEntry(name, TarConstants.LF_NORMAL);
        entry.setMode(mode);
        entry.setSize(content.length);
        entry.setUserId(uid);
        entry.setGroupId(gid);
        return put(entry, content);
    }

    public TarBuilder symlink(String name, String target) {
        TarArchiveEntry entry = new TarArchiveEntry(name, TarConstants.LF_SYMLINK);
        entry.setLinkName(target);
        entry.setMode(0777);
        return put(entry, null);
    }

    public TarBuilder hardlink(String name, String target) {
        TarArchiveEntry entry = new TarArchiveEntry(name, TarConstants.LF_LINK);
        entry.setLinkName(target);
        return put(entry, null);
    }

    public TarBuilder fifo(String name) {
        TarArchiveEntry entry = new TarArchiveEntry(name, TarConstants.LF_FIFO);
        entry.setMode(0600);
        return put(entry, null);
    }

    public TarBuilder charDevice(String name, int major, int minor) {
        TarArchiveEntry entry = new TarArchiveEntry(name, TarConstants.LF_CHR);
        entry.setMode(0600);
        entry.setDevMajor(major);
        entry.setDevMinor(minor);
        return put(entry, null);
    }

    /**
     * A PAX extended header ('x') for the next entry, with the records written byte for byte
     * (commons-compress would encode String values as UTF-8, so it cannot write binary xattrs).
     */
    public TarBuilder pax(Map<String, byte[]> records) {
        ByteArrayOutputStream data = new ByteArrayOutputStream();
        records.forEach((key, value) -> {
            byte[] keyBytes = key.getBytes(StandardCharsets.UTF_8);
            int rest = 1 + keyBytes.length + 1 + value.length + 1;
            int length = rest + 1;
            while (length != rest + String.valueOf(length).length()) {
                length = rest + String.valueOf(length).length();
            }
            data.writeBytes((length + " ").getBytes(StandardCharsets.US_ASCII));
            data.writeBytes(keyBytes);
            data.write('=');
            data.writeBytes(value);
            data.write('\n');
        });
        TarArchiveEntry entry = new TarArchiveEntry("PaxHeaders.0/next", TarConstants.LF_PAX_EXTENDED_HEADER_LC);
        entry.setSize(data.size());
        return put(entry, data.toByteArray());
    }

    /** A whiteout for {@code path}: {@code dir/.wh.name}. */
    public TarBuilder whiteout(String path) {
        int slash = path.lastIndexOf('/');
        String name = slash < 0 ? ".wh." + path : path.substring(0, slash + 1) + ".wh." + path.substring(slash + 1);
        return file(name, "");
    }

    /** Marks {@code dir} opaque: {@code dir/.wh..wh..opq}. */
    public TarBuilder opaque(String dir) {
        return file(dir + "/.wh..wh..opq", "");
    }

    private TarBuilder put(TarArchiveEntry entry, byte[] content) {
        try {
            entry.setLastModifiedTime(FileTime.from(MTIME));
            tar.putArchiveEntry(entry);
            if (content != null) {
                tar.write(content);
            }
            tar.closeArchiveEntry();
            return this;
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    public byte[] build() {
        try {
            tar.finish();
            tar.close();
            return bytes.toByteArray();
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }
}
