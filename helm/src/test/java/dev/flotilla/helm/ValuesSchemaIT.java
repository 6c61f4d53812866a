package dev.flotilla.helm;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** Install-time values that values.schema.json or the chart's own checks must reject with a message naming the problem. */
class ValuesSchemaIT {
    @TempDir
    Path directory;

    private Helm.Result render(String values) throws IOException {
        Path file = directory.resolve("values.yaml");
        Files.writeString(file, values);
        return Helm.templateResult(file);
    }

    private static void assertRejected(Helm.Result result, String... expectedInMessage) {
        assertNotEquals(0, result.exitCode(), "helm accepted the values:\n" + result.stdout());
        for (String expected : expectedInMessage) {
            assertTrue(result.stderr().contains(expected), "message lacks '" + expected + "':\n" + result.stderr());
        }
    }

    @Test
    void misspeltKey_isRejectedNamingTheKeyAndItsParent() throws IOException {
        assertRejected(render("controlPlane:\n  replica: 3\n"), "/controlPlane", "additional properties 'replica' not allowed");
    }

    @Test
    void misspeltTopLevelKey_isRejected() throws IOException {
        assertRejected(render("nodeAgnet:\n  enabled: false\n"), "additional properties 'nodeAgnet' not allowed");
    }

    @Test
    void unknownDatabaseMode_isRejectedListingTheModes() throws IOException {
        assertRejected(render("postgresql:\n  mode: embedded\n"), "/postgresql/mode", "'bundled', 'external'");
    }

    @Test
    void wrongType_isRejectedNamingTheExpectedType() throws IOException {
        assertRejected(render("controlPlane:\n  replicas: two\n"), "/controlPlane/replicas", "integer");
    }

    @Test
    void relativeHostPath_isRejected() throws IOException {
        assertRejected(render("nodeAgent:\n  hostPaths:\n    state: var/lib/flotilla\n"), "/nodeAgent/hostPaths/state");
    }

    @Test
    void misspeltResourceSection_isRejected() throws IOException {
        assertRejected(render("controlPlane:\n  resources:\n    limit: {memory: 1Gi}\n"), "additional properties 'limit' not allowed");
    }

    @Test
    void severalReplicasWithTheMicroVmController_areAccepted() throws IOException {
        // The controller's passes take a PostgreSQL advisory lock (MicroVmControllerTest), so replicas may share it.
        Helm.Result result = render("controlPlane:\n  replicas: 3\n");
        assertEquals(0, result.exitCode(), result.stderr());
    }

    @Test
    void externalDatabaseWithoutConnection_isRejected() throws IOException {
        assertRejected(render("postgresql:\n  mode: external\n"), "neither postgresql.external.existingSecret nor postgresql.external.jdbcUrl");
    }

    @Test
    void externalDatabaseWithNonPostgresqlUrl_isRejected() throws IOException {
        assertRejected(render("postgresql:\n  mode: external\n  external:\n    jdbcUrl: jdbc:mysql://db/flotilla\n"),
                "must start with jdbc:postgresql://");
    }

    @Test
    void validValues_areAccepted() throws IOException {
        Helm.Result result = render("controlPlane:\n  replicas: 2\n  microVmController:\n    enabled: false\n");
        assertEquals(0, result.exitCode(), result.stderr());
    }
}
