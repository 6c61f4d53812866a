package dev.flotilla.vmm.bench;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;

/**
 * The raw-ioctl C baseline ({@code src/bench/c/raw_vm_density.c}): compiled with gcc into
 * target/bench when missing or older than its source, run as its own process, its key=value line parsed.
 */
final class RawBaseline {
    private RawBaseline() {}

    record Result(int count, double seconds, double rate, double hostKibPerVm, double rssKibPerVm) {}

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
        List<String> cc = List.of("gcc", "-O2", "-Wall", "-o", binary.toString(), source.toString());
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

    static Result run(Path binary, int count, long guestMemKib) throws IOException, InterruptedException {
        Process p = new ProcessBuilder(binary.toString(), Integer.toString(count), Long.toString(guestMemKib))
                .redirectErrorStream(true).start();
        String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8).strip();
        if (!p.waitFor(10, TimeUnit.MINUTES) || p.exitValue() != 0) {
            throw new IOException("the baseline " + binary + " failed: " + out);
        }
        Map<String, String> kv = new HashMap<>();
        for (String token : out.lines().reduce((a, b) -> b).orElse("").split("\\s+")) {
            String[] pair = token.split("=", 2);
            if (pair.length == 2) {
                kv.put(pair[0], pair[1]);
            }
        }
        try {
            return new Result(Integer.parseInt(kv.get("count")), Double.parseDouble(kv.get("seconds")),
                    Double.parseDouble(kv.get("rate")), Double.parseDouble(kv.get("host_kib_per_vm")),
                    Double.parseDouble(kv.get("rss_kib_per_vm")));
        } catch (RuntimeException e) {
            throw new IOException("cannot parse the baseline's output: " + out, e);
        }
    }
}
