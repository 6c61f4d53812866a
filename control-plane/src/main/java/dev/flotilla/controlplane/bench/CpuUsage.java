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
 * @param jitNanos        of which the JIT compiler threads' (warm-up, not work per request), or -1 when unknown
 * @param gcNanos         of which the garbage collector's threads', or -1 when unknown
 * @param postgresNanos   the PostgreSQL processes' user + system CPU time, or -1 when they cannot be read
 */
record CpuUsage(long jvmNanos, long jitNanos, long gcNanos, long postgresNanos) {
    /** Linux reports /proc/PID/stat times in clock ticks of USER_HZ, which is 100 on every mainstream build. */
    private static final long NANOS_PER_TICK = 10_000_000L;

    /**
     * @param postmasterPid the PostgreSQL server's process id, or -1 when the database is not a local process
     */
    static CpuUsage now(long postmasterPid) {
        long jvm = ((com.sun.management.OperatingSystemMXBean) ManagementFactory.getOperatingSystemMXBean())
                .getProcessCpuTime();
        long[] jitAndGc = jitAndGcTicks();
        return new CpuUsage(jvm, jitAndGc == null ? -1 : jitAndGc[0] * NANOS_PER_TICK,
                jitAndGc == null ? -1 : jitAndGc[1] * NANOS_PER_TICK,
                postmasterPid <= 0 ? -1 : treeTicks(postmasterPid) * NANOS_PER_TICK);
    }

    CpuUsage minus(CpuUsage earlier) {
        return new CpuUsage(jvmNanos - earlier.jvmNanos, difference(jitNanos, earlier.jitNanos),
                difference(gcNanos, earlier.gcNanos), difference(postgresNanos, earlier.postgresNanos));
    }

    private static long difference(long now, long earlier) {
        return now < 0 || earlier < 0 ? -1 : now - earlier;
    }

    /**
     * {JIT compiler threads, GC threads} utime + stime of this process, told apart by the thread names HotSpot
     * gives them ("C2 CompilerThread0", "GC Thread#0", "G1 Conc#0", ...); null when /proc cannot be read. A
     * compiler thread that HotSpot retires takes its time with it, so the JIT figure can only be low.
     */
    private static long[] jitAndGcTicks() {
        long[] ticks = new long[2];
        try (Stream<Path> threads = Files.list(Path.of("/proc/self/task"))) {
            for (Path thread : threads.toList()) {
                String name;
                long[] stat;
                try {
                    name = Files.readString(thread.resolve("comm")).trim();
                } catch (IOException gone) {
                    continue;
                }
                boolean jit = name.contains("CompilerThre");
                boolean gc = name.startsWith("GC Thread") || name.startsWith("G1 ");
                if ((jit || gc) && (stat = stat(thread)) != null) {
                    ticks[jit ? 0 : 1] += stat[1] + stat[2];
                }
            }
        } catch (IOException | RuntimeException e) {
            return null;
        }
        return ticks;
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
