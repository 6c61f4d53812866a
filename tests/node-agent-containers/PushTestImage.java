import dev.flotilla.containers.bench.BusyboxImage;
import dev.flotilla.containers.bench.LoopbackRegistry;

import java.nio.file.Files;
import java.nio.file.Path;

/**
 * Starts Debian's docker-registry on loopback, pushes the busybox test image (Cmd: greet and exit 0), writes
 * "REFERENCE\nREGISTRY" to args[0] and keeps the registry up until killed.
 */
public class PushTestImage {
    public static void main(String[] args) throws Exception {
        Path dir = Files.createTempDirectory("fl-agent-registry");
        LoopbackRegistry registry = LoopbackRegistry.start(dir.resolve("registry"));
        Path layout = BusyboxImage.writeLayout(dir.resolve("layout"), "v1", "echo hello from $(hostname); exit 0");
        String reference = registry.push(layout, "v1", "smoke/hello:v1");
        Files.writeString(Path.of(args[0]), reference + "\n" + registry.address() + "\n");
        Thread.sleep(Long.MAX_VALUE);
    }
}
