package dev.flotilla.images.store;

import dev.flotilla.images.Digest;
import dev.flotilla.images.IntegrityException;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.ByteArrayInputStream;
import java.io.IOException;
import java.io.InputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

class BlobStoreTest {
    private static final byte[] CONTENT = "some blob".getBytes(StandardCharsets.UTF_8);
    private static final Digest DIGEST = Digest.sha256(CONTENT);

    @TempDir
    Path root;

    private BlobStore store() throws IOException {
        return new BlobStore(Files.createDirectories(root.resolve("blobs")), Files.createDirectories(root.resolve("tmp")));
    }

    @Test
    void ingest_matchingContent_isPublishedUnderDigest() throws IOException {
        BlobStore store = store();
        store.ingest(DIGEST, CONTENT.length, new ByteArrayInputStream(CONTENT), "blob");

        assertArrayEquals(CONTENT, Files.readAllBytes(root.resolve("blobs/sha256/" + DIGEST.hex())));
        assertEquals(0, Files.list(root.resolve("tmp")).count());
    }

    @Test
    void ingest_corruptContent_leavesNothingBehind() throws IOException {
        BlobStore store = store();
        byte[] corrupt = CONTENT.clone();
        corrupt[0] ^= 1;

        assertThrows(IntegrityException.class, () -> store.ingest(DIGEST, CONTENT.length, new ByteArrayInputStream(corrupt), "blob"));
        assertFalse(store.has(DIGEST));
        assertEquals(0, Files.list(root.resolve("tmp")).count());
    }

    @Test
    void ingest_connectionDroppedMidway_leavesNothingBehind() throws IOException {
        BlobStore store = store();
        InputStream dropping = new InputStream() {
            private int sent;

            @Override
            public int read() throws IOException {
                if (sent == 4) {
                    throw new IOException("connection reset");
                }
                return CONTENT[sent++];
            }
        };

        assertThrows(IOException.class, () -> store.ingest(DIGEST, CONTENT.length, dropping, "blob"));
        assertFalse(store.has(DIGEST));
        assertEquals(0, Files.list(root.resolve("tmp")).count());
    }

    @Test
    void readVerified_blobDamagedOnDisk_isRemovedAndReported() throws IOException {
        BlobStore store = store();
        store.put(DIGEST, CONTENT, "blob");
        Files.writeString(store.path(DIGEST), "tampered!");

        IntegrityException damaged = assertThrows(IntegrityException.class, () -> store.readVerified(DIGEST, 1024, "blob"));
        assertTrue(damaged.getMessage().contains("was damaged"), damaged.getMessage());
        assertFalse(store.has(DIGEST));
    }

    @Test
    void put_wrongDigest_isRefused() throws IOException {
        BlobStore store = store();

        assertThrows(IntegrityException.class, () -> store.put(Digest.sha256(new byte[0]), CONTENT, "manifest"));
        assertTrue(store.list().isEmpty());
    }
}
