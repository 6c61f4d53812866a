package dev.flotilla.vmm.bench;

import java.net.URISyntaxException;
import java.nio.file.Files;
import java.nio.file.Path;

/** Where the vmm-engine module is: the benchmarks find their C sources and write into its target/. */
final class EngineFiles {
    private EngineFiles() {}

    /** The vmm-engine directory: FLOTILLA_HOME/vmm-engine, else two levels above target/classes. */
    static Path engineDir() {
        String home = System.getenv("FLOTILLA_HOME");
        if (home != null && Files.isDirectory(Path.of(home, "vmm-engine", "src"))) {
            return Path.of(home, "vmm-engine");
        }
        try {
            Path classes = Path.of(EngineFiles.class.getProtectionDomain().getCodeSource().getLocation().toURI());
            Path dir = classes.getParent() == null ? null : classes.getParent().getParent();
            if (dir != null && Files.isDirectory(dir.resolve("src"))) {
                return dir;
            }
        } catch (URISyntaxException | SecurityException | NullPointerException e) {
            // fall through to the error below
        }
        throw new IllegalStateException("cannot find the vmm-engine directory: set FLOTILLA_HOME to the checkout");
    }

    static Path targetDir() {
        return engineDir().resolve("target").resolve("bench");
    }
}
