package dev.flotilla.node.health;

import dev.flotilla.contract.v1.KvmKind;
import dev.flotilla.node.config.NodeConfig;
import dev.flotilla.node.info.HostFacts;
import dev.flotilla.node.sandbox.SandboxManager;
import jakarta.enterprise.context.ApplicationScoped;
import jakarta.inject.Inject;
import org.eclipse.microprofile.health.HealthCheck;
import org.eclipse.microprofile.health.HealthCheckResponse;
import org.eclipse.microprofile.health.HealthCheckResponseBuilder;
import org.eclipse.microprofile.health.Liveness;
import org.eclipse.microprofile.health.Readiness;

import java.io.IOException;
import java.nio.file.FileStore;
import java.nio.file.Files;
import java.nio.file.Path;

/** Readiness and liveness of the node agent ({@code /q/health/ready}, {@code /q/health/live}). */
public final class NodeHealth {
    /** Below this much free space in the state directory, records may fail to persist: not ready. */
    static final long MIN_FREE_DISK_BYTES = 256L << 20;

    private NodeHealth() {
    }

    /** KVM usable, and which kind: a node without /dev/kvm runs no sandbox. */
    @Readiness
    @ApplicationScoped
    public static class Kvm implements HealthCheck {
        @Inject
        SandboxManager sandboxes;

        @Override
        public HealthCheckResponse call() {
            HostFacts host = sandboxes.host();
            return HealthCheckResponse.named("kvm").status(host.kvmKind() != KvmKind.NONE)
                    .withData("kind", host.kvmKind().name().toLowerCase(java.util.Locale.ROOT))
                    .withData("linuxGuests", host.kvmKind() == KvmKind.HARDWARE)
                    .withData("description", host.kvmSentence()).build();
        }
    }

    /** The tiny guest image (always needed) and, when configured, the Linux guest kernel and initramfs. */
    @Readiness
    @ApplicationScoped
    public static class GuestArtifacts implements HealthCheck {
        @Inject
        NodeConfig config;

        @Override
        public HealthCheckResponse call() {
            HealthCheckResponseBuilder b = HealthCheckResponse.named("guest-artifacts");
            boolean up = true;
            Path tiny = Path.of(config.stateDir(), "tiny-guest.bin");
            up &= report(b, "tinyGuest", tiny);
            if (config.guests().linuxKernel().isPresent()) {
                up &= report(b, "linuxKernel", Path.of(config.guests().linuxKernel().get()));
                if (config.guests().linuxInitrd().isPresent()) {
                    up &= report(b, "linuxInitrd", Path.of(config.guests().linuxInitrd().get()));
                }
            } else {
                b.withData("linuxKernel", "not configured (flotilla.node.guests.linux-kernel): Linux guests unavailable");
            }
            return b.status(up).build();
        }

        private static boolean report(HealthCheckResponseBuilder b, String key, Path file) {
            boolean ok = Files.isRegularFile(file) && Files.isReadable(file);
            b.withData(key, file + (ok ? "" : " (missing or unreadable)"));
            return ok;
        }
    }

    /** Free space where records are written. */
    @Readiness
    @ApplicationScoped
    public static class Disk implements HealthCheck {
        @Inject
        NodeConfig config;

        @Override
        public HealthCheckResponse call() {
            Path dir = Path.of(config.stateDir());
            try {
                FileStore store = Files.getFileStore(dir);
                long free = store.getUsableSpace();
                return HealthCheckResponse.named("disk").status(free >= MIN_FREE_DISK_BYTES)
                        .withData("stateDir", dir.toString()).withData("freeBytes", free)
                        .withData("minimumBytes", MIN_FREE_DISK_BYTES).build();
            } catch (IOException e) {
                return HealthCheckResponse.named("disk").down().withData("stateDir", dir.toString())
                        .withData("error", e.getMessage()).build();
            }
        }
    }

    /** The agent's own process: answers, and can still create threads for VMs. */
    @Liveness
    @ApplicationScoped
    public static class Alive implements HealthCheck {
        @Override
        public HealthCheckResponse call() {
            return HealthCheckResponse.named("agent").up()
                    .withData("threads", java.lang.management.ManagementFactory.getThreadMXBean().getThreadCount()).build();
        }
    }
}
