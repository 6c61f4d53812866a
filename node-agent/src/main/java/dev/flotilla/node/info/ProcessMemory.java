package dev.flotilla.node.info;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;

/** This process's resident set (VmRSS), from /proc/self/status. */
public final class ProcessMemory {
    private ProcessMemory() {
    }

    public static long residentBytes() {
        try {
            for (String line : Files.readAllLines(Path.of("/proc/self/status"))) {
                if (line.startsWith("VmRSS:")) {
                    return Long.parseLong(line.replaceAll("[^0-9]", "")) * 1024;
                }
            }
        } catch (IOException | RuntimeException e) {
            // not Linux, or /proc hidden
        }
        return -1;
    }
}
