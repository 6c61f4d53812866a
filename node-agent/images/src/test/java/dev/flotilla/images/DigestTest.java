package dev.flotilla.images;

import org.junit.jupiter.api.Test;

import java.nio.charset.StandardCharsets;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

class DigestTest {
    @Test
    void sha256_ofKnownBytes_matchesPublishedValue() {
        assertEquals("sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855", Digest.sha256(new byte[0]).toString());
    }

    @Test
    void parse_sha512_computesWithSha512() {
        byte[] content = "abc".getBytes(StandardCharsets.UTF_8);
        Digest sha512 = Digest.parse("sha512:" + "0".repeat(128));

        assertEquals(128, sha512.computeFor(content).hex().length());
    }

    @Test
    void parse_upperCaseHex_isRefused() {
        assertThrows(IllegalArgumentException.class, () -> Digest.parse("sha256:" + "A".repeat(64)));
    }

    @Test
    void parse_unknownAlgorithm_isRefused() {
        assertThrows(IllegalArgumentException.class, () -> Digest.parse("md5:" + "a".repeat(32)));
    }

    @Test
    void parse_missingPrefix_isRefused() {
        assertThrows(IllegalArgumentException.class, () -> Digest.parse("a".repeat(64)));
    }
}
