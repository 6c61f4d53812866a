package dev.flotilla.vmm.kvm;

import dev.flotilla.vmm.testing.KvmAvailable;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

import java.util.List;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** The KVM wrappers against this host's /dev/kvm. */
class KvmIT {

    @BeforeEach
    void requireKvm() {
        KvmAvailable.assumeKvm();
    }

    @Test
    void open_reportsApiVersion12AndAVcpuMmapSize() {
        try (Kvm kvm = Kvm.open()) {
            assertEquals(12, kvm.apiVersion());
            assertTrue(kvm.vcpuMmapSize() >= 4096);
        }
    }

    @Test
    void requireCapabilities_whatTheEngineUses_arePresent() {
        try (Kvm kvm = Kvm.open()) {
            kvm.requireCapabilities(KvmCapability.IRQCHIP, KvmCapability.USER_MEMORY, KvmCapability.IOEVENTFD,
                    KvmCapability.IRQFD, KvmCapability.IMMEDIATE_EXIT);
        }
    }

    @Test
    void supportedCpuid_containsLeaf1() {
        try (Kvm kvm = Kvm.open()) {
            List<CpuidEntry> cpuid = kvm.supportedCpuid();
            assertTrue(cpuid.stream().anyMatch(e -> e.function() == 1), cpuid.toString());
        }
    }

    @Test
    void vcpu_bootMsrsAndCpuid_areAcceptedAndReadBack() {
        try (Kvm kvm = Kvm.open(); KvmVm vm = kvm.createVm()) {
            vm.createIrqchip();
            KvmVcpu vcpu = vm.createVcpu(0);
            vcpu.setCpuid(VcpuCpuid.forVcpu(kvm.supportedCpuid(), 0, 1));
            vcpu.setMsrs(BootMsrs.entries());
            long[] v = vcpu.getMsrs(BootMsrs.IA32_MISC_ENABLE, BootMsrs.MTRR_DEF_TYPE);
            assertEquals(1, v[0] & BootMsrs.MISC_ENABLE_FAST_STRING);
            assertEquals(BootMsrs.MTRR_ENABLE | BootMsrs.MEMORY_TYPE_WRITE_BACK, v[1]);
            vcpu.configureLocalInterrupts();
            assertEquals(0b111, (vcpu.getLapic()[0x351] & 0x7), "LINT0 delivers ExtINT");
        }
    }

    @Test
    void irqfdAndIoeventfd_registerAndUnregister() {
        try (Kvm kvm = Kvm.open(); KvmVm vm = kvm.createVm()) {
            vm.createIrqchip();
            int fd = dev.flotilla.vmm.sys.Libc.eventfd(0, dev.flotilla.vmm.sys.Libc.EFD_CLOEXEC);
            try {
                vm.registerIrqfd(fd, 5);
                vm.unregisterIrqfd(fd, 5);
                vm.registerIoeventfd(0xC000_1050L, 4, fd, false, null);
                vm.unregisterIoeventfd(0xC000_1050L, 4, fd, false, null);
            } finally {
                dev.flotilla.vmm.sys.Libc.close(fd);
            }
        }
    }
}
