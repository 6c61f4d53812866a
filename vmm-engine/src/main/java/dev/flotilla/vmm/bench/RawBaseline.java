package dev.flotilla.vmm.bench;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;

/**
 * The raw-ioctl C baseline ({@code src/bench/c/raw_vm_density.c}): compiled with gcc into
 * target/bench when missing or older than its source; {@link VmDensityBench} runs it as its own process.
 */
final class RawBaseline {
    private RawBaseline() {}

    static Path build() throws IOException, InterruptedException {
        Path source = EngineFiles.engineDir().resolve("src/bench/c/raw_vm_density.c");
        if (!Files.isRegularFile(source)) {
            throw new IOException("the baseline's source " + source + " is missing");
        }
        Path binary = EngineFiles.targetDir().resolve("raw_vm_density");
        if (Files.isExecutable(binary)
                && Files.getLastModifiedTime(binary).compareTo(Files.getLastModifiedTime(source)) >= 0) {
            return binary;
        }
        Files.createDirectories(binary.getParent());
        List<String> cc = List.of("gcc", "-O2", "-Wall", "-pthread", "-o", binary.toString(), source.toString());
        Process p;
        try {
            p = new ProcessBuilder(cc).redirectErrorStream(true).start();
        } catch (IOException e) {
            throw new IOException("cannot run gcc to build the baseline (install build-essential): " + e.getMessage(), e);
        }
        String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
        if (p.waitFor() != 0) {
            throw new IOException("gcc failed to build the baseline:\n" + out);
        }
        return binary;
    }
}
