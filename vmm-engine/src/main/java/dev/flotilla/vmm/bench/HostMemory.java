package dev.flotilla.vmm.bench;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;

/** The two memory readings the baseline takes, read the same way: MemAvailable and this process's VmRSS. */
final class HostMemory {
    private HostMemory() {}

    /** MemAvailable from /proc/meminfo, in KiB: falls when the kernel or any process takes memory. */
    static long availableKib() {
        return field(Path.of("/proc/meminfo"), "MemAvailable:");
    }

    private static final String[] KERNEL_FIELDS = {"Slab:", "KernelStack:", "PageTables:", "SecPageTables:", "VmallocUsed:"};

    /**
     * Slab + KernelStack + PageTables + SecPageTables + VmallocUsed from /proc/meminfo, in KiB: the
     * kernel side of what VMs and threads cost, summed as the baseline sums it.
     */
    static long kernelKib() {
        long total = 0;
        try {
            for (String line : Files.readAllLines(Path.of("/proc/meminfo"))) {
                for (String key : KERNEL_FIELDS) {
                    if (line.startsWith(key)) {
                        total += Long.parseLong(line.substring(key.length()).trim().split("\\s+")[0]);
                    }
                }
            }
        } catch (IOException | NumberFormatException e) {
            throw new IllegalStateException("cannot read /proc/meminfo: " + e.getMessage(), e);
        }
        return total;
    }

    /** VmRSS from /proc/self/status, in KiB. */
    static long rssKib() {
        return field(Path.of("/proc/self/status"), "VmRSS:");
    }

    private static long field(Path file, String key) {
        try {
            for (String line : Files.readAllLines(file)) {
                if (line.startsWith(key)) {
                    return Long.parseLong(line.substring(key.length()).trim().split("\\s+")[0]);
                }
            }
        } catch (IOException | NumberFormatException e) {
            throw new IllegalStateException("cannot read " + key + " from " + file + ": " + e.getMessage(), e);
        }
        throw new IllegalStateException(file + " has no " + key + " line");
    }

    /** {MemAvailable, VmRSS, kernel} after a full GC, so that garbage from before does not count. */
    static long[] settled() {
        System.gc();
        try {
            Thread.sleep(300);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
        return new long[]{availableKib(), rssKib(), kernelKib()};
    }
}
