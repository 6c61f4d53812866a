package dev.flotilla.images.store;

import dev.flotilla.images.Digest;
import dev.flotilla.images.IntegrityException;

import java.io.FilterInputStream;
import java.io.IOException;
import java.io.InputStream;
import java.security.MessageDigest;

/**
 * Hashes and counts what is read through it, refuses to read past the expected size, and checks
 * digest and size in {@link #verify()}. Content is only trusted once verify() has returned.
 */
public final class VerifyingInputStream extends FilterInputStream {
    private final Digest expected;
    private final long expectedSize;
    private final String what;
    private final MessageDigest hasher;
    private long count;

    /**
     * @param expectedSize the exact size, or -1 when only the digest is known
     * @param what         names the content in error messages
     */
    public VerifyingInputStream(InputStream in, Digest expected, long expectedSize, String what) {
        super(in);
        this.expected = expected;
        this.expectedSize = expectedSize;
        this.what = what;
        this.hasher = expected.newHasher();
    }

    @Override
    public int read() throws IOException {
        byte[] one = new byte[1];
        int n = read(one, 0, 1);
        return n < 0 ? -1 : one[0] & 0xff;
    }

    @Override
    public int read(byte[] buffer, int offset, int length) throws IOException {
        int n = super.read(buffer, offset, length);
        if (n > 0) {
            count += n;
            if (expectedSize >= 0 && count > expectedSize) {
                throw new IntegrityException(what + " is longer than its declared " + expectedSize + " bytes");
            }
            hasher.update(buffer, offset, n);
        }
        return n;
    }

    @Override
    public long skip(long n) throws IOException {
        // Skipped bytes must be hashed too.
        byte[] sink = new byte[(int) Math.min(8192, Math.max(1, n))];
        long skipped = 0;
        while (skipped < n) {
            int r = read(sink, 0, (int) Math.min(sink.length, n - skipped));
            if (r < 0) {
                break;
            }
            skipped += r;
        }
        return skipped;
    }

    @Override
    public boolean markSupported() {
        return false;
    }

    /** Bytes read so far. */
    public long count() {
        return count;
    }

    /** Reads the rest of the stream and throws {@link IntegrityException} unless size and digest match. */
    public void verify() throws IOException {
        byte[] sink = new byte[64 * 1024];
        while (read(sink, 0, sink.length) >= 0) {
            // drain: trailing bytes count towards the digest
        }
        if (expectedSize >= 0 && count != expectedSize) {
            throw new IntegrityException(what + " ended after " + count + " of its declared " + expectedSize + " bytes");
        }
        Digest actual = Digest.fromHasher(expected.algorithm(), hasher.digest());
        if (!actual.equals(expected)) {
            throw new IntegrityException(what + " does not match its digest: expected " + expected + ", got " + actual);
        }
    }
}
