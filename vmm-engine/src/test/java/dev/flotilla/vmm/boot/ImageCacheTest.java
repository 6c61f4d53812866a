package dev.flotilla.vmm.boot;

import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.FileTime;
import java.time.Instant;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;

class ImageCacheTest {

    @TempDir
    Path dir;

    @BeforeEach
    void empty() {
        ImageCache.clear();
    }

    @Test
    void sameFileOpenedTwice_isReadOnceAndServedFromMemory() throws Exception {
        Path file = write("kernel", "first version");
        assertArrayEquals(bytes("first version"), readAll(file));
        assertEquals(1, ImageCache.size());
        assertEquals(13, ImageCache.cachedBytes());
        assertArrayEquals(bytes("first version"), readAll(file));
        assertEquals(1, ImageCache.size());
    }

    @Test
    void rewrittenFile_isReadAgain() throws Exception {
        Path file = write("kernel", "first version");
        readAll(file);
        Files.writeString(file, "second one, longer");
        assertArrayEquals(bytes("second one, longer"), readAll(file));

        // Same size, new modification time: still a different file.
        Files.writeString(file, "third one, longer!");
        Files.setLastModifiedTime(file, FileTime.from(Instant.now().plusSeconds(5)));
        assertArrayEquals(bytes("third one, longer!"), readAll(file));
        assertEquals(1, ImageCache.size(), "one entry per path");
    }

    @Test
    void fileLargerThanAQuarterOfTheBudget_isNotCached() {
        assertFalse(ImageCache.cacheable(ImageCache.BUDGET_BYTES / 4 + 1));
        assertFalse(ImageCache.cacheable(0));
    }

    private Path write(String name, String text) throws Exception {
        return Files.writeString(dir.resolve(name), text);
    }

    private static byte[] readAll(Path file) throws BootException {
        try (ImageFile image = ImageFile.open(file, "kernel")) {
            return image.read(0, (int) image.size());
        }
    }

    private static byte[] bytes(String text) {
        return text.getBytes(java.nio.charset.StandardCharsets.UTF_8);
    }
}
