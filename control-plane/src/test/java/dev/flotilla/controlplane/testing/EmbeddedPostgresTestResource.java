package dev.flotilla.controlplane.testing;

import dev.flotilla.controlplane.storage.EmbeddedDatabase;
import io.quarkus.test.common.QuarkusTestResourceLifecycleManager;

import java.nio.file.Path;
import java.util.Map;

/**
 * Starts one real PostgreSQL (the same {@link EmbeddedDatabase} the service uses in production) per test JVM, on a
 * fresh cluster, and points the datasource at it. Quarkus restarts between test profiles reuse it.
 */
public class EmbeddedPostgresTestResource implements QuarkusTestResourceLifecycleManager {
    private static final String URL_PROPERTY = "flotilla-test.jdbc-url";

    @Override
    public Map<String, String> start() {
        synchronized (System.class) {
            String url = System.getProperty(URL_PROPERTY);
            if (url == null) {
                Path directory = Path.of("target", "test-postgres").toAbsolutePath();
                EmbeddedDatabase database = EmbeddedDatabase.start(directory, 0, true, false);
                Runtime.getRuntime().addShutdownHook(new Thread(database::close, "test-postgres-stop"));
                url = database.jdbcUrl();
                System.setProperty(URL_PROPERTY, url);
            }
            return Map.of("quarkus.datasource.jdbc.url", url, "quarkus.datasource.username", "postgres");
        }
    }

    @Override
    public void stop() {
        // Stopped by the shutdown hook when the test JVM ends, so profile restarts keep the same server.
    }
}
