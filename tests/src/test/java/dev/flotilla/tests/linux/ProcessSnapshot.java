package dev.flotilla.tests.linux;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.stream.Stream;

/** Counts of what this process holds, from /proc/self, for leak checks. */
record ProcessSnapshot(long fds, int threads, long mappings, long rssKib) {

    static ProcessSnapshot take() throws IOException, InterruptedException {
        System.gc();
        Thread.sleep(200);
        long fds;
        try (Stream<Path> s = Files.list(Path.of("/proc/self/fd"))) {
            fds = s.count();
        }
        long mappings;
        try (Stream<String> lines = Files.lines(Path.of("/proc/self/maps"))) {
            mappings = lines.count();
        }
        long rss = Files.readAllLines(Path.of("/proc/self/status")).stream()
                .filter(l -> l.startsWith("VmRSS:"))
                .mapToLong(l -> Long.parseLong(l.replaceAll("\\D", "")))
                .findFirst().orElse(-1);
        return new ProcessSnapshot(fds, java.lang.management.ManagementFactory.getThreadMXBean().getThreadCount(), mappings, rss);
    }
}
