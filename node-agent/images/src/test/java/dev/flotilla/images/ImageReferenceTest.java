package dev.flotilla.images;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;
import org.junit.jupiter.params.provider.ValueSource;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

class ImageReferenceTest {
    private static final String HEX = "a".repeat(64);

    @ParameterizedTest
    @CsvSource({
            "busybox, docker.io/library/busybox:latest",
            "busybox:1.36, docker.io/library/busybox:1.36",
            "library/busybox, docker.io/library/busybox:latest",
            "docker.io/busybox, docker.io/library/busybox:latest",
            "index.docker.io/library/busybox:1, docker.io/library/busybox:1",
            "bitnami/redis:7, docker.io/bitnami/redis:7",
            "quay.io/coreos/etcd:v3.5, quay.io/coreos/etcd:v3.5",
            "localhost/app, localhost/app:latest",
            "127.0.0.1:5000/team/app:v1, 127.0.0.1:5000/team/app:v1",
            "registry.local:5000/a/b/c, registry.local:5000/a/b/c:latest",
            "my-registry:5000/app_x__y.z-w, my-registry:5000/app_x__y.z-w:latest",
    })
    void parse_validReference_isNormalised(String text, String canonical) {
        assertEquals(canonical, ImageReference.parse(text).toString());
    }

    @Test
    void parse_digestOnly_hasNoTag() {
        ImageReference reference = ImageReference.parse("registry:5000/repo@sha256:" + HEX);

        assertEquals("registry:5000", reference.registry());
        assertEquals("repo", reference.repository());
        assertNull(reference.tag());
        assertEquals("sha256:" + HEX, reference.manifestReference());
    }

    @Test
    void parse_tagAndDigest_pullsDigestKeepsTag() {
        ImageReference reference = ImageReference.parse("busybox:1.36@sha256:" + HEX);

        assertEquals("1.36", reference.tag());
        assertEquals("sha256:" + HEX, reference.manifestReference());
        assertEquals("docker.io/library/busybox:1.36@sha256:" + HEX, reference.toString());
    }

    @Test
    void toString_parsedBack_isEqual() {
        ImageReference reference = ImageReference.parse("127.0.0.1:5000/team/app:v1@sha256:" + HEX);

        assertEquals(reference, ImageReference.parse(reference.toString()));
    }

    @ParameterizedTest
    @ValueSource(strings = {"", "Busybox", "busybox:", "busybox:-bad", "bad//path", "-app", "app-", "registry:99999/app",
            "registry:5000/App", "busybox@sha256:abc", "busybox@md5:" + "a", "a/../b"})
    void parse_invalidReference_isRefusedWithReason(String text) {
        IllegalArgumentException refused = assertThrows(IllegalArgumentException.class, () -> ImageReference.parse(text));
        assertTrue(refused.getMessage().contains("image reference") || refused.getMessage().contains("empty"), refused.getMessage());
    }

    @Test
    void parse_nameLongerThan255_isRefused() {
        String longName = "a".repeat(250) + "/bbbbbbbbbb";

        IllegalArgumentException refused = assertThrows(IllegalArgumentException.class, () -> ImageReference.parse(longName));
        assertTrue(refused.getMessage().contains("longer than 255"), refused.getMessage());
    }

    @Test
    void parse_tagLongerThan128_isRefused() {
        assertThrows(IllegalArgumentException.class, () -> ImageReference.parse("app:" + "t".repeat(129)));
    }
}
