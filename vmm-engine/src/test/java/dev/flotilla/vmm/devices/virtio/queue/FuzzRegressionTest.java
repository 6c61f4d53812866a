package dev.flotilla.vmm.devices.virtio.queue;

import org.junit.jupiter.api.DynamicTest;
import org.junit.jupiter.api.TestFactory;

import java.io.IOException;
import java.net.URISyntaxException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.stream.Stream;

import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTimeoutPreemptively;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** Replays every saved fuzz input under src/test/resources/regressions/: each must run clean. */
class FuzzRegressionTest {

    @TestFactory
    Stream<DynamicTest> savedInputs_replayed_runWithoutExceptionOrHang() throws IOException, URISyntaxException {
        Path dir = Path.of(FuzzRegressionTest.class.getResource("/regressions").toURI());
        List<Path> files;
        try (Stream<Path> s = Files.list(dir)) {
            files = s.filter(p -> p.toString().endsWith(".fuzz")).sorted().toList();
        }
        assertFalse(files.isEmpty(), "no regression inputs found in " + dir);
        return files.stream().map(file -> DynamicTest.dynamicTest(file.getFileName().toString(), () -> {
            FuzzCase input = FuzzCase.read(file);
            FuzzHarness.Outcome outcome = assertTimeoutPreemptively(Duration.ofSeconds(5), () -> FuzzHarness.run(input));
            if (input.expected() != null) {
                assertTrue(outcome.metrics().rejections(input.expected()) > 0,
                        "expected the queue to count " + input.expected());
            }
        }));
    }
}
