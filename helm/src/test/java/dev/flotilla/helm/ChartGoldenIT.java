package dev.flotilla.helm;

import org.junit.jupiter.api.DynamicTest;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestFactory;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.stream.Stream;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;

/** helm lint and helm template of every golden value set, compared with its expected rendering. */
class ChartGoldenIT {

    @TestFactory
    Stream<DynamicTest> lint_everyValueSet_passesStrictLint() {
        return GoldenFiles.names().stream().map(name -> DynamicTest.dynamicTest(name, () -> {
            Helm.Result lint = Helm.run("lint", "--strict", Helm.chart().toString(), "--namespace", Helm.NAMESPACE,
                    "--values", GoldenFiles.values(name).toString());
            assertEquals(0, lint.exitCode(), () -> "helm lint --strict with " + name + ":\n" + lint.stdout() + lint.stderr());
        }));
    }

    @TestFactory
    Stream<DynamicTest> template_everyValueSet_matchesExpectedFile() {
        return GoldenFiles.names().stream().map(name -> DynamicTest.dynamicTest(name, () -> {
            String rendered = Manifests.redactGenerated(Helm.template(GoldenFiles.values(name)));
            Path expected = GoldenFiles.expected(name);
            if (GoldenFiles.updating()) {
                Files.writeString(expected, rendered);
                return;
            }
            if (!Files.exists(expected)) {
                fail(expected + " is missing: run with -Dflotilla.golden.update=true and review it");
            }
            assertEquals(Files.readString(expected), rendered,
                    () -> "rendering of " + name + " changed: review, then rerun with -Dflotilla.golden.update=true");
        }));
    }

    @Test
    void goldenDirectory_everyExpectedFile_hasItsValueSet() throws IOException {
        List<String> names = GoldenFiles.names();
        assertFalse(names.isEmpty(), "no value sets in " + GoldenFiles.directory());
        try (Stream<Path> files = Files.list(GoldenFiles.directory())) {
            List<String> orphans = files.map(f -> f.getFileName().toString())
                    .filter(f -> f.endsWith(GoldenFiles.EXPECTED))
                    .filter(f -> !names.contains(f.substring(0, f.length() - GoldenFiles.EXPECTED.length())))
                    .toList();
            assertTrue(orphans.isEmpty(), "expected files without a values file: " + orphans);
        }
    }

    @Test
    void template_generatedSecrets_differBetweenRenderingsAndAreRedactedInGoldenFiles() {
        Path defaults = GoldenFiles.values("defaults");
        String first = Helm.template(defaults);
        String second = Helm.template(defaults);
        assertNotEquals(first, second, "generated tokens and passwords must be random, not fixed in the chart");
        assertEquals(Manifests.redactGenerated(first), Manifests.redactGenerated(second));
        assertTrue(Manifests.redactGenerated(first).contains("join-token: \"<generated>\""));
    }
}
