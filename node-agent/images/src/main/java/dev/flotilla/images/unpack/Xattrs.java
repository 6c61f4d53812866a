package dev.flotilla.images.unpack;

import dev.flotilla.images.ImageException;
import dev.flotilla.images.UnsafeLayerException;
import org.apache.commons.compress.archivers.tar.TarArchiveEntry;

import java.io.ByteArrayOutputStream;
import java.io.FilterInputStream;
import java.io.IOException;
import java.io.InputStream;
import java.nio.charset.StandardCharsets;
import java.util.Arrays;
import java.util.Base64;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.Set;
import java.util.TreeSet;

/**
 * Extended attributes of layer entries, from PAX records {@code SCHILY.xattr.<name>=<raw bytes>}
 * (Go's archive/tar: Docker, containerd, BuildKit) and {@code LIBARCHIVE.xattr.<%-encoded
 * name>=<base64>} (bsdtar).
 *
 * <p>commons-compress (1.28) decodes every PAX value as UTF-8 into a String, which is lossy for
 * binary values: a {@code security.capability} byte of 0x80 or more becomes U+FFFD. It has no
 * raw-bytes API, so the unpacker reads the extended header itself: a {@link HeaderTap} under the
 * tar stream records the bytes commons-compress reads while it finds the next entry (padding,
 * extension headers, the entry's header), and {@link #parse} walks those 512-byte records again,
 * keeping the xattr records of the {@code x} header(s) that precede the entry. The names it finds
 * must be the ones commons-compress saw, so the two readings cannot silently disagree.
 *
 * <p>Which attributes an image may carry ({@link #rule}):
 * <ul>
 *   <li>applied: {@code security.capability} (file capabilities, e.g. cap_net_raw on ping) and
 *       {@code user.*} (plain data), on regular files and directories only (Linux refuses
 *       {@code user.*} on other file types; capabilities only mean something on files);</li>
 *   <li>refused (the layer fails with an {@link UnsafeLayerException}): {@code trusted.*}, the
 *       namespace only CAP_SYS_ADMIN can read or write; {@code trusted.overlay.*} is overlayfs'
 *       own metadata (opaque directories, redirects, metacopy), which an image must not forge,
 *       and no build tool writes {@code trusted.*} into a layer;</li>
 *   <li>skipped: everything else, e.g. {@code security.selinux} or {@code security.ima} (labels
 *       of the build host's policy, meaningless in the guest) and {@code system.posix_acl_*}.</li>
 * </ul>
 * Global ({@code g}) PAX headers are not searched for xattrs: no image tool writes them there.
 */
final class Xattrs {
    static final String SCHILY = "SCHILY.xattr.";
    static final String LIBARCHIVE = "LIBARCHIVE.xattr.";
    static final String CAPABILITY = "security.capability";
    private static final int RECORD = 512;

    enum Rule { APPLY, SKIP, REFUSE }

    private Xattrs() {
    }

    /** What happens to an attribute of this name; see the class comment. */
    static Rule rule(String name) {
        if (name.equals(CAPABILITY) || (name.startsWith("user.") && name.length() > "user.".length())) {
            return Rule.APPLY;
        }
        if (name.startsWith("trusted.")) {
            return Rule.REFUSE;
        }
        return Rule.SKIP;
    }

    /** Whether commons-compress saw xattr records for this entry (then {@link #parse} reads them exactly). */
    static boolean declared(TarArchiveEntry entry) {
        return entry.getExtraPaxHeaders().keySet().stream().anyMatch(k -> k.startsWith(SCHILY) || k.startsWith(LIBARCHIVE));
    }

    /**
     * The xattrs (name to raw value) of the entry whose headers are in {@code recorded}.
     *
     * @param recorded what the tap recorded while commons-compress found {@code entry}
     * @param start    the tar stream offset of {@code recorded[0]} (the end of the previous entry's data)
     */
    static Map<String, byte[]> parse(byte[] recorded, long start, TarArchiveEntry entry, String layerName) {
        String what = layerName + " entry '" + entry.getName() + "'";
        int pos = (int) ((RECORD - start % RECORD) % RECORD);
        Map<String, byte[]> xattrs = new LinkedHashMap<>();
        while (pos + RECORD <= recorded.length) {
            byte type = recorded[pos + 156];
            long size = headerSize(recorded, pos + 124, what);
            if (type == 'x' || type == 'X' || type == 'g' || type == 'L' || type == 'K') {
                if (size > recorded.length - pos - RECORD) {
                    throw new ImageException(what + " has an extension header that ends after the data read for it");
                }
                if (type == 'x' || type == 'X') {
                    // Consecutive x headers add up, as commons-compress reads them.
                    xattrs.putAll(records(recorded, pos + RECORD, (int) size, what));
                }
                pos += RECORD + (int) ((size + RECORD - 1) / RECORD * RECORD);
                continue;
            }
            Set<String> seen = new TreeSet<>();
            entry.getExtraPaxHeaders().keySet().stream().filter(k -> k.startsWith(SCHILY)).map(k -> k.substring(SCHILY.length())).forEach(seen::add);
            entry.getExtraPaxHeaders().keySet().stream().filter(k -> k.startsWith(LIBARCHIVE))
                    .map(k -> percentDecode(k.substring(LIBARCHIVE.length()), what)).forEach(seen::add);
            if (!seen.equals(new TreeSet<>(xattrs.keySet()))) {
                throw new ImageException(what + ": its extended header's xattrs " + new TreeSet<>(xattrs.keySet())
                        + " differ from the ones the tar reader saw " + seen);
            }
            return xattrs;
        }
        throw new ImageException(what + ": cannot find its header among the bytes read for it");
    }

    /** PAX records "LEN KEY=VALUE\n", read as bytes; SCHILY values are raw, LIBARCHIVE ones base64. */
    private static Map<String, byte[]> records(byte[] data, int offset, int size, String what) {
        Map<String, byte[]> schily = new LinkedHashMap<>();
        Map<String, byte[]> libarchive = new LinkedHashMap<>();
        int pos = offset;
        int end = offset + size;
        while (pos < end && data[pos] != 0) {
            int space = indexOf(data, (byte) ' ', pos, end);
            int length = space < 0 || space == pos || space - pos > 9 ? -1 : decimal(data, pos, space);
            if (length <= space - pos + 1 || length > end - pos) {
                throw new ImageException(what + " has a malformed PAX record at byte " + (pos - offset) + " of its extended header");
            }
            int recordEnd = pos + length;
            int equals = indexOf(data, (byte) '=', space + 1, recordEnd);
            if (equals < 0 || data[recordEnd - 1] != '\n') {
                throw new ImageException(what + " has a malformed PAX record at byte " + (pos - offset) + " of its extended header");
            }
            String key = new String(data, space + 1, equals - space - 1, StandardCharsets.UTF_8);
            byte[] value = Arrays.copyOfRange(data, equals + 1, recordEnd - 1);
            if (key.startsWith(SCHILY)) {
                schily.put(key.substring(SCHILY.length()), value);
            } else if (key.startsWith(LIBARCHIVE)) {
                try {
                    libarchive.put(percentDecode(key.substring(LIBARCHIVE.length()), what),
                            Base64.getDecoder().decode(new String(value, StandardCharsets.US_ASCII)));
                } catch (IllegalArgumentException e) {
                    throw new ImageException(what + " has a LIBARCHIVE.xattr value that is not base64", e);
                }
            }
            pos = recordEnd;
        }
        // bsdtar writes both forms for the same attribute; the raw SCHILY one wins.
        libarchive.forEach(schily::putIfAbsent);
        return schily;
    }

    /** Octal (NUL/space terminated) or, with the high bit of the first byte set, base-256. */
    private static long headerSize(byte[] header, int offset, String what) {
        if ((header[offset] & 0x80) != 0) {
            long value = 0;
            for (int i = 1; i < 12; i++) {
                if ((value >>> 55) != 0) {
                    throw new ImageException(what + " has an extension header with an impossible size");
                }
                value = (value << 8) | (header[offset + i] & 0xff);
            }
            return value;
        }
        long value = 0;
        for (int i = 0; i < 12; i++) {
            byte b = header[offset + i];
            if (b == 0 || b == ' ') {
                if (value == 0) {
                    continue;
                }
                break;
            }
            if (b < '0' || b > '7') {
                throw new ImageException(what + " has an extension header with a malformed size");
            }
            value = value * 8 + (b - '0');
        }
        return value;
    }

    private static int decimal(byte[] data, int from, int to) {
        int value = 0;
        for (int i = from; i < to; i++) {
            if (data[i] < '0' || data[i] > '9') {
                return -1;
            }
            value = value * 10 + (data[i] - '0');
        }
        return value;
    }

    private static int indexOf(byte[] data, byte b, int from, int to) {
        for (int i = from; i < to; i++) {
            if (data[i] == b) {
                return i;
            }
        }
        return -1;
    }

    /** libarchive %-encodes xattr names (RFC 1738 style); '+' is not special. */
    static String percentDecode(String encoded, String what) {
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        byte[] bytes = encoded.getBytes(StandardCharsets.UTF_8);
        for (int i = 0; i < bytes.length; i++) {
            if (bytes[i] == '%') {
                int hi = i + 2 < bytes.length ? Character.digit(bytes[i + 1], 16) : -1;
                int lo = i + 2 < bytes.length ? Character.digit(bytes[i + 2], 16) : -1;
                if (hi < 0 || lo < 0) {
                    throw new ImageException(what + " has a malformed LIBARCHIVE.xattr name '" + encoded + "'");
                }
                out.write(hi * 16 + lo);
                i += 2;
            } else {
                out.write(bytes[i]);
            }
        }
        return out.toString(StandardCharsets.UTF_8);
    }

    /**
     * Sits under the tar reader: counts the stream offset and, between {@link #startRecording}
     * and {@link #stopRecording}, keeps every byte read or skipped. No mark/reset, so the tar
     * reader cannot read ahead behind its back.
     */
    static final class HeaderTap extends FilterInputStream {
        private long offset;
        private long recordingStart;
        private ByteArrayOutputStream recording;

        HeaderTap(InputStream in) {
            super(in);
        }

        void startRecording() {
            recording = new ByteArrayOutputStream();
            recordingStart = offset;
        }

        long recordingStart() {
            return recordingStart;
        }

        byte[] stopRecording() {
            byte[] bytes = recording.toByteArray();
            recording = null;
            return bytes;
        }

        @Override
        public int read() throws IOException {
            int b = in.read();
            if (b >= 0) {
                offset++;
                if (recording != null) {
                    recording.write(b);
                }
            }
            return b;
        }

        @Override
        public int read(byte[] buffer, int off, int len) throws IOException {
            int n = in.read(buffer, off, len);
            if (n > 0) {
                offset += n;
                if (recording != null) {
                    recording.write(buffer, off, n);
                }
            }
            return n;
        }

        @Override
        public long skip(long n) throws IOException {
            if (recording == null) {
                long skipped = in.skip(n);
                offset += skipped;
                return skipped;
            }
            // Recorded bytes must be contiguous: skip by reading.
            int n2 = read(new byte[(int) Math.min(n, 8192)]);
            return Math.max(n2, 0);
        }

        @Override
        public boolean markSupported() {
            return false;
        }

        @Override
        public synchronized void mark(int readlimit) {
        }

        @Override
        public synchronized void reset() throws IOException {
            throw new IOException("mark/reset not supported");
        }
    }
}
