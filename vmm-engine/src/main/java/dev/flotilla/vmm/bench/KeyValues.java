package dev.flotilla.vmm.bench;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;

/** Runs a benchmark round as its own process and parses the key=value pairs of its last output line. */
final class KeyValues {
    private KeyValues() {}

    static Map<String, Double> runProcess(List<String> command, String what) throws IOException, InterruptedException {
        Process p = new ProcessBuilder(command).redirectErrorStream(true).start();
        String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8).strip();
        if (!p.waitFor(20, TimeUnit.MINUTES) || p.exitValue() != 0) {
            throw new IOException(what + " failed: " + out);
        }
        String last = out.lines().reduce((a, b) -> b).orElse("");
        Map<String, Double> kv = new HashMap<>();
        for (String token : last.split("\\s+")) {
            String[] pair = token.split("=", 2);
            if (pair.length == 2) {
                try {
                    kv.put(pair[0], Double.parseDouble(pair[1]));
                } catch (NumberFormatException e) {
                    throw new IOException("cannot parse " + what + "'s output: " + out, e);
                }
            }
        }
        for (String key : List.of("rate", "host_kib_per_vm", "rss_kib_per_vm", "kernel_kib_per_vm")) {
            if (!kv.containsKey(key)) {
                throw new IOException(what + " printed no " + key + ": " + out);
            }
        }
        return kv;
    }
}
