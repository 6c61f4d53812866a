package dev.flotilla.tests.linux;

import java.nio.file.Files;
import java.nio.file.Path;

/**
 * The guest artifacts and command line the Linux suites boot, handed over by scripts/e2e.sh as
 * system properties. A missing property fails the suite loudly: these tests never skip silently.
 */
final class GuestArtifacts {
    private GuestArtifacts() {}

    static Path vmlinux() {
        return file("flotilla.kernel");
    }

    static Path bzImage() {
        return file("flotilla.bzimage");
    }

    static Path initrd() {
        return file("flotilla.initrd");
    }

    /** The project's recommended kernel command line (guest/kernel/cmdline), plus {@code extra}. */
    static String cmdline(String extra) {
        return (required("flotilla.cmdline") + " " + extra).strip();
    }

    /** Where a suite may write artifacts (console logs) that survive the lab. */
    static Path results() {
        return Path.of(required("flotilla.results"));
    }

    private static Path file(String property) {
        Path p = Path.of(required(property));
        if (!Files.isRegularFile(p)) {
            throw new IllegalStateException(property + " names " + p + ", which is not a file: build it with guest/build.sh all");
        }
        return p;
    }

    private static String required(String property) {
        String v = System.getProperty(property);
        if (v == null || v.isBlank()) {
            throw new IllegalStateException("system property " + property + " is not set: run the Linux suites through scripts/e2e.sh");
        }
        return v;
    }
}
