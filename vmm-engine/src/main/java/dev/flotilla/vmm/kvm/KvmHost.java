package dev.flotilla.vmm.kvm;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.HashSet;
import java.util.Optional;
import java.util.Set;

/**
 * What kind of KVM this host has, and what that means for guests, in one sentence.
 * {@link #detect()} gathers the facts; {@link #classify} decides, and is unit-tested.
 */
public record KvmHost(Kind kind, String module, String sentence) {

    public enum Kind {
        /** VT-x or AMD-V (kvm_intel / kvm_amd): stock Linux guests run natively. */
        HARDWARE,
        /** kvm_pvm, a page-table based hypervisor without VT-x/AMD-V: only small guests run natively. */
        PVM,
        /** No usable /dev/kvm. */
        NONE
    }

    /** Looks at /dev/kvm, /sys/module and /proc/cpuinfo. */
    public static KvmHost detect() {
        boolean exists = Files.exists(Path.of(Kvm.DEVICE));
        Optional<String> openError = Optional.empty();
        if (exists) {
            try (Kvm kvm = Kvm.open()) {
                kvm.apiVersion();
            } catch (RuntimeException e) {
                openError = Optional.of(e.getMessage());
            }
        }
        Set<String> modules = new HashSet<>();
        for (String m : new String[]{"kvm_intel", "kvm_amd", "kvm_pvm"}) {
            if (Files.isDirectory(Path.of("/sys/module", m))) {
                modules.add(m);
            }
        }
        return classify(exists, openError, modules, cpuFlags());
    }

    private static Set<String> cpuFlags() {
        try {
            for (String line : Files.readAllLines(Path.of("/proc/cpuinfo"))) {
                if (line.startsWith("flags")) {
                    return Set.of(line.substring(line.indexOf(':') + 1).trim().split("\\s+"));
                }
            }
        } catch (IOException | RuntimeException e) {
            // No cpuinfo: decide from the modules alone.
        }
        return Set.of();
    }

    static KvmHost classify(boolean devKvmExists, Optional<String> openError, Set<String> modules, Set<String> cpuFlags) {
        if (!devKvmExists) {
            return new KvmHost(Kind.NONE, "", "No KVM: /dev/kvm does not exist (no kvm module loaded, or a host "
                    + "without virtualization); VMs cannot run here, and Linux-guest tests need the lab.");
        }
        if (openError.isPresent()) {
            return new KvmHost(Kind.NONE, "", "No usable KVM: " + openError.get() + ".");
        }
        if (modules.contains("kvm_pvm")) {
            return new KvmHost(Kind.PVM, "kvm_pvm", "KVM here is PVM (kvm_pvm, a page-table based hypervisor, "
                    + "no VT-x/AMD-V): small guests run natively, but a stock Linux guest kernel does not, "
                    + "so Linux guests run in the lab (a nested host with emulated AMD-V).");
        }
        if (modules.contains("kvm_intel") || cpuFlags.contains("vmx")) {
            return new KvmHost(Kind.HARDWARE, "kvm_intel",
                    "Hardware KVM (kvm_intel, Intel VT-x): Linux guests run natively.");
        }
        if (modules.contains("kvm_amd") || cpuFlags.contains("svm")) {
            return new KvmHost(Kind.HARDWARE, "kvm_amd",
                    "Hardware KVM (kvm_amd, AMD-V): Linux guests run natively.");
        }
        return new KvmHost(Kind.NONE, "", "No usable KVM: /dev/kvm answers, but neither kvm_intel, kvm_amd nor "
                + "kvm_pvm is loaded and the CPU shows no vmx/svm flag.");
    }
}
