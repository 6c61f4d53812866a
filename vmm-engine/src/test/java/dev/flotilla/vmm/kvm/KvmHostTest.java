package dev.flotilla.vmm.kvm;

import org.junit.jupiter.api.Test;

import java.util.Optional;
import java.util.Set;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

class KvmHostTest {

    @Test
    void classify_noDevice_isNone() {
        KvmHost h = KvmHost.classify(false, Optional.empty(), Set.of(), Set.of("vmx"));
        assertEquals(KvmHost.Kind.NONE, h.kind());
        assertTrue(h.sentence().contains("/dev/kvm does not exist"), h.sentence());
    }

    @Test
    void classify_deviceThatCannotBeOpened_isNoneWithTheError() {
        KvmHost h = KvmHost.classify(true, Optional.of("cannot open /dev/kvm: errno 13"), Set.of("kvm_intel"), Set.of());
        assertEquals(KvmHost.Kind.NONE, h.kind());
        assertTrue(h.sentence().contains("errno 13"));
    }

    @Test
    void classify_pvmModule_isPvmEvenWithoutCpuFlags() {
        KvmHost h = KvmHost.classify(true, Optional.empty(), Set.of("kvm_pvm"), Set.of());
        assertEquals(KvmHost.Kind.PVM, h.kind());
        assertTrue(h.sentence().contains("lab"));
    }

    @Test
    void classify_kvmIntel_isHardware() {
        KvmHost h = KvmHost.classify(true, Optional.empty(), Set.of("kvm_intel"), Set.of("vmx"));
        assertEquals(new KvmHost(KvmHost.Kind.HARDWARE, "kvm_intel", "Hardware KVM (kvm_intel, Intel VT-x): Linux guests run natively."), h);
    }

    @Test
    void classify_svmFlag_isHardwareAmd() {
        assertEquals("kvm_amd", KvmHost.classify(true, Optional.empty(), Set.of(), Set.of("svm")).module());
    }
}
