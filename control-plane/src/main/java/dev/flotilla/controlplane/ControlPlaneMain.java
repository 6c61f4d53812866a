package dev.flotilla.controlplane;

import dev.flotilla.controlplane.bench.SchedulerBench;
import dev.flotilla.controlplane.storage.EmbeddedDatabase;
import io.quarkus.arc.Arc;
import io.quarkus.runtime.Quarkus;
import io.quarkus.runtime.QuarkusApplication;
import io.quarkus.runtime.annotations.QuarkusMain;

import java.nio.file.Files;
import java.nio.file.Path;

/**
 * Entry point. {@code java -jar quarkus-run.jar} serves the API; {@code ... bench scheduler [--json FILE]} runs the
 * placement benchmark against a fresh embedded database and exits.
 *
 * <p>When neither the system property {@code quarkus.datasource.jdbc.url} nor the environment variable
 * {@code QUARKUS_DATASOURCE_JDBC_URL} is set, an embedded PostgreSQL is started first, with its data under
 * {@code flotilla.data-dir} (default {@code ~/.local/share/flotilla/control-plane}).
 */
@QuarkusMain
public class ControlPlaneMain implements QuarkusApplication {

    public static void main(String... args) throws Exception {
        boolean bench = args.length > 0 && args[0].equals("bench");
        if (bench) {
            SchedulerBench.prepare(args);
        }
        if (System.getProperty("quarkus.datasource.jdbc.url") == null && System.getenv("QUARKUS_DATASOURCE_JDBC_URL") == null) {
            Path dataDirectory = Path.of(setting("flotilla.data-dir",
                    System.getProperty("user.home") + "/.local/share/flotilla/control-plane"));
            int port = Integer.parseInt(setting("flotilla.embedded-postgres.port", "0"));
            boolean fresh = Boolean.parseBoolean(setting("flotilla.embedded-postgres.fresh", "false"));
            boolean durable = Boolean.parseBoolean(setting("flotilla.embedded-postgres.durable", "true"));
            Files.createDirectories(dataDirectory);
            // The benchmark's data directory is a throwaway temporary one: removed after the database stops.
            Path throwaway = bench && Boolean.getBoolean("flotilla-bench.temporary-data-dir") ? dataDirectory : null;
            EmbeddedDatabase database = EmbeddedDatabase.start(dataDirectory, port, fresh, durable).stopOnExit(throwaway);
            System.setProperty("quarkus.datasource.jdbc.url", database.jdbcUrl());
            System.setProperty("quarkus.datasource.username", database.username());
        }
        Quarkus.run(ControlPlaneMain.class, args);
    }

    /** A setting from a system property or its environment-variable spelling (FLOTILLA_DATA_DIR). */
    private static String setting(String name, String fallback) {
        String value = System.getProperty(name);
        if (value == null) {
            value = System.getenv(name.toUpperCase().replace('.', '_').replace('-', '_'));
        }
        return value == null || value.isBlank() ? fallback : value;
    }

    @Override
    public int run(String... args) throws Exception {
        if (args.length > 0 && args[0].equals("bench")) {
            return Arc.container().instance(SchedulerBench.class).get().run(args);
        }
        if (args.length > 0) {
            System.err.println("control-plane: unknown arguments " + String.join(" ", args)
                    + " (no arguments serves the API; 'bench scheduler [--json FILE]' runs the benchmark)");
            return 2;
        }
        Quarkus.waitForExit();
        return 0;
    }
}
