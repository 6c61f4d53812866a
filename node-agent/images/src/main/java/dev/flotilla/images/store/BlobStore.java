package dev.flotilla.images.store;

import dev.flotilla.images.Digest;
import dev.flotilla.images.IntegrityException;

import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.nio.channels.Channels;
import java.nio.channels.FileChannel;
import java.nio.file.DirectoryStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.ArrayList;
import java.util.List;

/**
 * Content-addressed blobs: {@code blobs/<algorithm>/<hex>}. A file exists under its digest's name
 * only after its content was hashed and matched while being written (see {@link #ingest}); a
 * download that fails or is cut off leaves at most a temporary file in {@code tmp/}, which nothing
 * reads and gc removes. Readers verify again ({@link #readVerified}, {@link #openVerifying}) so a
 * blob damaged on disk is found and removed rather than used.
 */
public final class BlobStore {
    private static final int COPY_BUFFER = 128 * 1024;

    private final Path blobsDir;
    private final Path tmpDir;

    public BlobStore(Path blobsDir, Path tmpDir) {
        this.blobsDir = blobsDir;
        this.tmpDir = tmpDir;
    }

    public Path path(Digest digest) {
        return blobsDir.resolve(digest.algorithm()).resolve(digest.hex());
    }

    public boolean has(Digest digest) {
        return Files.isRegularFile(path(digest));
    }

    /**
     * Copies {@code source} into the store under {@code digest}, verifying size and digest on the
     * way; publishes it only when both match.
     *
     * @param size exact expected size, or -1 when unknown (manifests fetched by digest)
     */
    public Path ingest(Digest digest, long size, InputStream source, String what) throws IOException {
        Path target = path(digest);
        Path tmp = Files.createTempFile(tmpDir, "blob-" + digest.hex().substring(0, 12) + "-", ".part");
        boolean published = false;
        try (VerifyingInputStream in = new VerifyingInputStream(source, digest, size, what);
             FileChannel channel = FileChannel.open(tmp, StandardOpenOption.WRITE)) {
            OutputStream out = Channels.newOutputStream(channel);
            byte[] buffer = new byte[COPY_BUFFER];
            int n;
            while ((n = in.read(buffer)) >= 0) {
                out.write(buffer, 0, n);
            }
            in.verify();
            channel.force(true);
            AtomicFiles.publish(tmp, target);
            published = true;
            return target;
        } finally {
            if (!published) {
                Files.deleteIfExists(tmp);
            }
        }
    }

    /** Stores small content already in memory (manifests, configs) after checking its digest. */
    public Path put(Digest digest, byte[] content, String what) throws IOException {
        Digest actual = digest.computeFor(content);
        if (!actual.equals(digest)) {
            throw new IntegrityException(what + " does not match its digest: expected " + digest + ", got " + actual);
        }
        Path target = path(digest);
        if (!Files.isRegularFile(target)) {
            Files.createDirectories(target.getParent());
            AtomicFiles.write(target, content, tmpDir);
        }
        return target;
    }

    /**
     * Reads a small blob and checks it against its digest. A blob that no longer matches is
     * deleted (so the next pull fetches it again) and reported.
     */
    public byte[] readVerified(Digest digest, long maxBytes, String what) throws IOException {
        Path file = path(digest);
        long size = Files.size(file);
        if (size > maxBytes) {
            throw new IntegrityException(what + " in the store is " + size + " bytes, over the limit of " + maxBytes);
        }
        byte[] content = Files.readAllBytes(file);
        Digest actual = digest.computeFor(content);
        if (!actual.equals(digest)) {
            Files.deleteIfExists(file);
            throw new IntegrityException(what + " in the store at " + file + " was damaged (its content hashes to " + actual
                    + "); it was removed, pull the image again");
        }
        return content;
    }

    /** Opens a blob for streaming; the caller must call {@link VerifyingInputStream#verify()} before trusting what it read. */
    public VerifyingInputStream openVerifying(Digest digest, long size, String what) throws IOException {
        return new VerifyingInputStream(Files.newInputStream(path(digest)), digest, size, what);
    }

    /** Every blob in the store. */
    public List<Digest> list() throws IOException {
        List<Digest> digests = new ArrayList<>();
        if (!Files.isDirectory(blobsDir)) {
            return digests;
        }
        try (DirectoryStream<Path> algorithms = Files.newDirectoryStream(blobsDir)) {
            for (Path algorithmDir : algorithms) {
                try (DirectoryStream<Path> blobs = Files.newDirectoryStream(algorithmDir)) {
                    for (Path blob : blobs) {
                        try {
                            digests.add(new Digest(algorithmDir.getFileName().toString(), blob.getFileName().toString()));
                        } catch (IllegalArgumentException notABlob) {
                            // A stray file is not content; gc leaves what it cannot name alone.
                        }
                    }
                }
            }
        }
        return digests;
    }

    /** Deletes a blob; returns the bytes freed (0 when it was not there). */
    public long delete(Digest digest) throws IOException {
        Path file = path(digest);
        long size = Files.exists(file) ? Files.size(file) : 0;
        return Files.deleteIfExists(file) ? size : 0;
    }
}
