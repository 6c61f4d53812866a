package dev.flotilla.vmm.testing;

import dev.flotilla.vmm.kvm.Kvm;
import dev.flotilla.vmm.kvm.KvmHost;

import java.nio.file.Files;
import java.nio.file.Path;

import static org.junit.jupiter.api.Assumptions.assumeTrue;

/** Skips a real-KVM test, with the reason in the report, when this host has no usable /dev/kvm. */
public final class KvmAvailable {
    private KvmAvailable() {}

    public static void assumeKvm() {
        assumeTrue(Files.exists(Path.of(Kvm.DEVICE)), "skipped: no /dev/kvm on this host, so no real-KVM test can run");
        KvmHost host = KvmHost.detect();
        assumeTrue(host.kind() != KvmHost.Kind.NONE, () -> "skipped: " + host.sentence());
    }
}
