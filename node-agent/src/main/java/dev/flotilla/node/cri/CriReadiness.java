package dev.flotilla.node.cri;

import dev.flotilla.contract.v1.KvmKind;
import dev.flotilla.cri.backend.RuntimeReadiness;
import dev.flotilla.node.config.NodeConfig;
import dev.flotilla.node.sandbox.SandboxManager;
import dev.flotilla.node.vm.GuestKind;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Optional;

/** RuntimeReady for the kubelet: this host can boot the pods' guests (KVM usable, Linux guests possible here). */
final class CriReadiness implements RuntimeReadiness {
    private final SandboxManager manager;
    private final NodeConfig config;
    private final GuestKind guest;

    CriReadiness(SandboxManager manager, NodeConfig config, GuestKind guest) {
        this.manager = manager;
        this.config = config;
        this.guest = guest;
    }

    @Override
    public Condition check() {
        if (manager.host().kvmKind() == KvmKind.NONE) {
            return Condition.notReady("KvmUnavailable", "this node cannot run microVMs: " + manager.host().kvmSentence());
        }
        if (guest == GuestKind.LINUX) {
            Optional<String> why = whyLinuxCannotRun(manager, config);
            if (why.isPresent()) {
                return Condition.notReady("LinuxGuestUnavailable", why.get());
            }
        }
        return Condition.isReady();
    }

    /** Why this agent cannot boot the Linux guest pods need, or empty when it can. */
    static Optional<String> whyLinuxCannotRun(SandboxManager manager, NodeConfig config) {
        KvmKind kvm = manager.host().kvmKind();
        if (kvm != KvmKind.HARDWARE && !config.guests().allowLinuxOnPvm()) {
            return Optional.of("pods run Linux guests, but this host's KVM is "
                    + kvm.name().toLowerCase(java.util.Locale.ROOT) + ": " + manager.host().kvmSentence()
                    + " Run the agent on a host with VT-x/AMD-V, or set flotilla.node.cri.guest=tiny for VMs without "
                    + "containers.");
        }
        Optional<String> kernel = config.guests().linuxKernel();
        if (kernel.isEmpty() || !Files.isReadable(Path.of(kernel.get()))) {
            return Optional.of("no readable Linux guest kernel is configured (flotilla.node.guests.linux-kernel = "
                    + kernel.orElse("unset") + "; build it with ./flotilla guest all)");
        }
        if (!config.containers().enabled()) {
            return Optional.of("containers are disabled on this node (flotilla.node.containers.enabled=false)");
        }
        return Optional.empty();
    }
}
