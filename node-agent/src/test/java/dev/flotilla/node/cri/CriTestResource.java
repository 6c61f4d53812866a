package dev.flotilla.node.cri;

import dev.flotilla.containers.bench.BusyboxImage;
import dev.flotilla.containers.bench.LoopbackRegistry;
import io.quarkus.test.common.QuarkusTestResourceLifecycleManager;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Map;

/**
 * The CRI endpoint on a socket of its own with tiny-guest pods (this host's KVM may be PVM), and Debian's
 * docker-registry on loopback holding a busybox image (pushed with skopeo) as {@value #IMAGE_PATH}.
 */
public class CriTestResource implements QuarkusTestResourceLifecycleManager {
    static final String IMAGE_PATH = "cri/busybox:1";

    private LoopbackRegistry registry;

    @Override
    public Map<String, String> start() {
        try {
            Path dir = Files.createTempDirectory("flotilla-cri-test-");
            registry = LoopbackRegistry.start(dir.resolve("registry"));
            Path layout = BusyboxImage.writeLayout(dir.resolve("layout"), "v1", "echo hello from busybox");
            registry.push(layout, "v1", IMAGE_PATH);
            return Map.of(
                    "flotilla.node.state-dir", dir.resolve("state").toString(),
                    "flotilla.node.cri.enabled", "true",
                    "flotilla.node.cri.socket", dir.resolve("run/cri.sock").toString(),
                    "flotilla.node.cri.guest", "tiny",
                    "flotilla.node.cri.cni-conf-dir", dir.resolve("cni").toString(),
                    "flotilla.node.containers.insecure-registries", registry.address());
        } catch (Exception e) {
            throw new IllegalStateException("cannot set up the CRI test: " + e.getMessage(), e);
        }
    }

    @Override
    public void stop() {
        if (registry != null) {
            try {
                registry.close();
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
            }
        }
    }
}
