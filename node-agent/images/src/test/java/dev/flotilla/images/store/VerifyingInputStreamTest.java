package dev.flotilla.images.store;

import dev.flotilla.images.Digest;
import dev.flotilla.images.IntegrityException;
import org.junit.jupiter.api.Test;

import java.io.ByteArrayInputStream;
import java.io.IOException;
import java.nio.charset.StandardCharsets;

import static org.junit.jupiter.api.Assertions.assertDoesNotThrow;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

class VerifyingInputStreamTest {
    private static final byte[] CONTENT = "layer content".getBytes(StandardCharsets.UTF_8);
    private static final Digest DIGEST = Digest.sha256(CONTENT);

    @Test
    void verify_matchingContent_passes() {
        VerifyingInputStream in = new VerifyingInputStream(new ByteArrayInputStream(CONTENT), DIGEST, CONTENT.length, "blob");

        assertDoesNotThrow(in::verify);
    }

    @Test
    void verify_changedByte_throwsDigestMismatch() {
        byte[] corrupt = CONTENT.clone();
        corrupt[3] ^= 1;
        VerifyingInputStream in = new VerifyingInputStream(new ByteArrayInputStream(corrupt), DIGEST, CONTENT.length, "blob x");

        IntegrityException mismatch = assertThrows(IntegrityException.class, in::verify);
        assertTrue(mismatch.getMessage().startsWith("blob x does not match its digest: expected " + DIGEST), mismatch.getMessage());
    }

    @Test
    void verify_truncatedContent_throwsShortRead() {
        VerifyingInputStream in = new VerifyingInputStream(new ByteArrayInputStream(CONTENT, 0, 5), DIGEST, CONTENT.length, "blob");

        IntegrityException shortRead = assertThrows(IntegrityException.class, in::verify);
        assertTrue(shortRead.getMessage().contains("ended after 5 of its declared " + CONTENT.length), shortRead.getMessage());
    }

    @Test
    void read_pastDeclaredSize_throws() {
        VerifyingInputStream in = new VerifyingInputStream(new ByteArrayInputStream(CONTENT), DIGEST, 4, "blob");

        assertThrows(IntegrityException.class, () -> in.readAllBytes());
    }

    @Test
    void skip_skippedBytes_stillCountTowardsDigest() throws IOException {
        VerifyingInputStream in = new VerifyingInputStream(new ByteArrayInputStream(CONTENT), DIGEST, CONTENT.length, "blob");
        in.skip(6);

        assertDoesNotThrow(in::verify);
    }
}
