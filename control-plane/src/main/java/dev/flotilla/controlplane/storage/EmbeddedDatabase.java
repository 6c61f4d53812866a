package dev.flotilla.controlplane.storage;

import io.zonky.test.db.postgres.embedded.EmbeddedPostgres;
import org.jboss.logging.Logger;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;

/**
 * A real PostgreSQL server (binaries shipped in a Maven artifact) that the control plane starts for itself when no
 * external database is configured. Its cluster lives under {@code <data dir>/postgres} and survives restarts.
 */
public final class EmbeddedDatabase implements AutoCloseable {
    private static final Logger LOG = Logger.getLogger(EmbeddedDatabase.class);
    /** Counted down when the application has stopped using the database, so the shutdown hook stops it last. */
    public static final CountDownLatch APPLICATION_STOPPED = new CountDownLatch(1);

    private final EmbeddedPostgres postgres;
    private final Path clusterDirectory;

    private EmbeddedDatabase(EmbeddedPostgres postgres, Path clusterDirectory) {
        this.postgres = postgres;
        this.clusterDirectory = clusterDirectory;
    }

    /**
     * Starts PostgreSQL on the cluster under {@code dataDirectory}, creating the cluster on first use.
     *
     * @param port TCP port on 127.0.0.1, or 0 for any free port
     * @param fresh wipe an existing cluster first (tests, benchmarks)
     * @param durable fsync and synchronous commit on (the library's defaults turn both off, which suits throwaway
     *                test clusters only: a crash could lose or corrupt committed fleet state)
     */
    public static EmbeddedDatabase start(Path dataDirectory, int port, boolean fresh, boolean durable) {
        Path cluster = dataDirectory.resolve("postgres");
        try {
            Files.createDirectories(dataDirectory);
            long started = System.nanoTime();
            EmbeddedPostgres.Builder builder = EmbeddedPostgres.builder()
                    .setDataDirectory(cluster)
                    .setCleanDataDirectory(fresh)
                    .setOverrideWorkingDirectory(dataDirectory.resolve("pg-binaries").toFile())
                    .setServerConfig("max_connections", "200")
                    .setServerConfig("shared_buffers", "128MB")
                    .setServerConfig("listen_addresses", "127.0.0.1")
                    .setPGStartupWait(java.time.Duration.ofSeconds(60))
                    // The library's own shutdown hook would stop the server as soon as the JVM begins to exit, while
                    // the application still uses it: its reconciler then waited on a vanished database and Quarkus
                    // waited for the reconciler (a minute-long SIGTERM exit). stopOnExit() stops it after the
                    // application instead.
                    .setRegisterShutdownHook(false);
            if (durable) {
                builder.setServerConfig("fsync", "on").setServerConfig("synchronous_commit", "on");
            }
            if (port > 0) {
                builder.setPort(port);
            }
            EmbeddedPostgres postgres = builder.start();
            LOG.infof("embedded PostgreSQL started on port %d with data in %s (%d ms)", postgres.getPort(), cluster,
                    TimeUnit.NANOSECONDS.toMillis(System.nanoTime() - started));
            return new EmbeddedDatabase(postgres, cluster);
        } catch (IOException e) {
            throw new UncheckedIOException("could not start the embedded PostgreSQL with data in " + cluster
                    + " (set quarkus.datasource.jdbc.url to use an external database instead)", e);
        }
    }

    public String jdbcUrl() {
        return postgres.getJdbcUrl("postgres", "postgres");
    }

    public String username() {
        return "postgres";
    }

    public Path clusterDirectory() {
        return clusterDirectory;
    }

    /**
     * Stops the server when the JVM exits, after the application has released it (or after 15 s). The stop itself
     * is bounded too: a shutdown hook that never returns would keep the JVM from exiting.
     */
    public EmbeddedDatabase stopOnExit() {
        return stopOnExit(null);
    }

    /** Like {@link #stopOnExit()}, then deletes {@code deleteAfterStop} (a throwaway data directory), if given. */
    public EmbeddedDatabase stopOnExit(Path deleteAfterStop) {
        Runtime.getRuntime().addShutdownHook(new Thread(() -> {
            try {
                APPLICATION_STOPPED.await(15, TimeUnit.SECONDS);
                Thread stopper = Thread.ofPlatform().daemon(true).name("embedded-postgres-close").start(this::close);
                stopper.join(TimeUnit.SECONDS.toMillis(20));
                if (stopper.isAlive()) {
                    LOG.warnf("the embedded PostgreSQL with data in %s did not stop within 20 s; exiting anyway",
                            clusterDirectory);
                } else if (deleteAfterStop != null) {
                    deleteRecursively(deleteAfterStop);
                }
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
            }
        }, "embedded-postgres-stop"));
        return this;
    }

    private static void deleteRecursively(Path directory) {
        try (var paths = Files.walk(directory)) {
            paths.sorted(java.util.Comparator.reverseOrder()).forEach(path -> path.toFile().delete());
        } catch (IOException e) {
            LOG.warnf("could not delete %s: %s", directory, e.getMessage());
        }
    }

    @Override
    public void close() {
        try {
            postgres.close();
        } catch (IOException e) {
            LOG.warnf(e, "stopping the embedded PostgreSQL with data in %s failed", clusterDirectory);
        }
    }
}
