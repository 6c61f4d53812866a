package dev.flotilla.node.info;

import dev.flotilla.contract.v1.KvmKind;
import dev.flotilla.vmm.kvm.KvmHost;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;

/** What the agent learns about its host once at start: CPUs, memory, which KVM. */
public record HostFacts(int cpus, long memoryMiB, KvmKind kvmKind, String kvmSentence) {

    public static HostFacts detect() {
        KvmHost kvm = KvmHost.detect();
        KvmKind kind = switch (kvm.kind()) {
            case HARDWARE -> KvmKind.HARDWARE;
            case PVM -> KvmKind.PVM;
            case NONE -> KvmKind.NONE;
        };
        return new HostFacts(Runtime.getRuntime().availableProcessors(), memTotalMiB(), kind, kvm.sentence());
    }

    static long memTotalMiB() {
        try {
            for (String line : Files.readAllLines(Path.of("/proc/meminfo"))) {
                if (line.startsWith("MemTotal:")) {
                    return Long.parseLong(line.replaceAll("[^0-9]", "")) / 1024;
                }
            }
        } catch (IOException | RuntimeException e) {
            // fall through
        }
        return Runtime.getRuntime().maxMemory() >> 20;
    }

    /** MemAvailable in MiB, or -1 when /proc/meminfo cannot be read. */
    public static long memAvailableMiB() {
        try {
            for (String line : Files.readAllLines(Path.of("/proc/meminfo"))) {
                if (line.startsWith("MemAvailable:")) {
                    return Long.parseLong(line.replaceAll("[^0-9]", "")) / 1024;
                }
            }
        } catch (IOException | RuntimeException e) {
            // fall through
        }
        return -1;
    }
}
