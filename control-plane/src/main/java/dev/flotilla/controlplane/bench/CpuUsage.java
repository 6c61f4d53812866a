package dev.flotilla.controlplane.bench;

import java.io.IOException;
import java.lang.management.ManagementFactory;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.stream.Stream;

/**
 * CPU time used so far by this JVM and by a local PostgreSQL server (its postmaster and every child process), read
 * from /proc. On a shared machine wall-clock rates move with other people's load; CPU time per placement does much
 * less, so the benchmark reports both.
 *
 * @param jvmNanos        this process's user + system CPU time
 * @param postgresNanos   the PostgreSQL processes' user + system CPU time, or -1 when they cannot be read
 */
record CpuUsage(long jvmNanos, long postgresNanos) {
    /** Linux reports /proc/PID/stat times in clock ticks of USER_HZ, which is 100 on every mainstream build. */
    private static final long NANOS_PER_TICK = 10_000_000L;

    /**
     * @param postmasterPid the PostgreSQL server's process id, or -1 when the database is not a local process
     */
    static CpuUsage now(long postmasterPid) {
        long jvm = ((com.sun.management.OperatingSystemMXBean) ManagementFactory.getOperatingSystemMXBean())
                .getProcessCpuTime();
        return new CpuUsage(jvm, postmasterPid <= 0 ? -1 : treeTicks(postmasterPid) * NANOS_PER_TICK);
    }

    CpuUsage minus(CpuUsage earlier) {
        return new CpuUsage(jvmNanos - earlier.jvmNanos,
                postgresNanos < 0 || earlier.postgresNanos < 0 ? -1 : postgresNanos - earlier.postgresNanos);
    }

    /** The postmaster's process id from {@code postmaster.pid} in the cluster directory, or -1. */
    static long postmasterPid(Path clusterDirectory) {
        try {
            return Long.parseLong(Files.readAllLines(clusterDirectory.resolve("postmaster.pid")).getFirst().trim());
        } catch (IOException | RuntimeException e) {
            return -1;
        }
    }

    /** utime + stime of {@code root} and its direct children (PostgreSQL's backends are the postmaster's children). */
    private static long treeTicks(long root) {
        long total = 0;
        try (Stream<Path> processes = Files.list(Path.of("/proc"))) {
            for (Path process : processes.toList()) {
                String name = process.getFileName().toString();
                if (!name.chars().allMatch(Character::isDigit)) {
                    continue;
                }
                long[] stat = stat(process);
                if (stat != null && (Long.parseLong(name) == root || stat[0] == root)) {
                    total += stat[1] + stat[2];
                }
            }
        } catch (IOException e) {
            return -1;
        }
        return total;
    }

    /** {ppid, utime, stime} from /proc/PID/stat, or null when the process is gone. */
    private static long[] stat(Path process) {
        try {
            String line = Files.readString(process.resolve("stat"));
            // The command name (field 2) may contain spaces and parentheses: fields are counted after its last ')'.
            String[] fields = line.substring(line.lastIndexOf(')') + 2).split(" ");
            return new long[] {Long.parseLong(fields[1]), Long.parseLong(fields[11]), Long.parseLong(fields[12])};
        } catch (IOException | RuntimeException e) {
            return null;
        }
    }
}
