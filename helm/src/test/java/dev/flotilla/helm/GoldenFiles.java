package dev.flotilla.helm;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.stream.Stream;

/**
 * The value sets under helm/src/test/resources/golden: NAME.values.yaml and the rendering it must produce,
 * NAME.expected.yaml. -Dflotilla.golden.update=true rewrites the expected files (review the diff).
 */
final class GoldenFiles {
    static final String VALUES = ".values.yaml";
    static final String EXPECTED = ".expected.yaml";

    private GoldenFiles() {
    }

    static Path directory() {
        return Helm.home().resolve("helm/src/test/resources/golden");
    }

    static boolean updating() {
        return Boolean.getBoolean("flotilla.golden.update");
    }

    /** Names of the value sets. */
    static List<String> names() {
        try (Stream<Path> files = Files.list(directory())) {
            return files.map(f -> f.getFileName().toString()).filter(f -> f.endsWith(VALUES))
                    .map(f -> f.substring(0, f.length() - VALUES.length())).sorted().toList();
        } catch (IOException e) {
            throw new UncheckedIOException("cannot list " + directory(), e);
        }
    }

    static Path values(String name) {
        return directory().resolve(name + VALUES);
    }

    static Path expected(String name) {
        return directory().resolve(name + EXPECTED);
    }
}
