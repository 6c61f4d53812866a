package dev.flotilla.node.container;

import org.junit.jupiter.api.Test;

import java.net.URI;
import java.util.List;
import java.util.Map;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** {@code flotilla.node.containers.mirrors} as the image store receives it (its pulls: ImageStoreIT). */
class RegistryMirrorsConfigTest {
    @Test
    void mirrors_keepTheirOrder_perRegistryHost() {
        Map<String, List<URI>> mirrors = ImageContainerRuntime.mirrors(Map.of(
                "docker.io", " https://mirror.internal/ , http://10.0.0.5:5000",
                "Registry.Local:5000", "http://127.0.0.1:5001"));

        assertEquals(List.of(URI.create("https://mirror.internal/"), URI.create("http://10.0.0.5:5000")), mirrors.get("docker.io"));
        assertEquals(List.of(URI.create("http://127.0.0.1:5001")), mirrors.get("registry.local:5000"), "hosts compare lower-case");
    }

    @Test
    void mirror_thatIsNotAnHttpBaseUrl_isRefusedNamingTheSetting() {
        IllegalArgumentException ftp = assertThrows(IllegalArgumentException.class,
                () -> ImageContainerRuntime.mirrors(Map.of("docker.io", "ftp://mirror.internal")));
        assertTrue(ftp.getMessage().startsWith("flotilla.node.containers.mirrors: mirror 'ftp://mirror.internal' of registry docker.io"),
                ftp.getMessage());

        IllegalArgumentException garbage = assertThrows(IllegalArgumentException.class,
                () -> ImageContainerRuntime.mirrors(Map.of("quay.io", "http://mirror internal")));
        assertTrue(garbage.getMessage().startsWith("flotilla.node.containers.mirrors.\"quay.io\": 'http://mirror internal' is not a URL"),
                garbage.getMessage());

        assertThrows(IllegalArgumentException.class,
                () -> ImageContainerRuntime.mirrors(Map.of("docker.io", "https://user:secret@mirror.internal")));
    }
}
