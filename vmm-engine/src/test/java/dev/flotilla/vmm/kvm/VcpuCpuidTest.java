package dev.flotilla.vmm.kvm;

import org.junit.jupiter.api.Test;

import java.util.List;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

class VcpuCpuidTest {

    private static final List<CpuidEntry> SUPPORTED = List.of(
            new CpuidEntry(0, 0, 0, 0x1F, 0x756e6547, 0x6c65746e, 0x49656e69),
            new CpuidEntry(1, 0, 0, 0x000806EC, 0xFF00_0000, 0x0000_0001, 0x0000_0000),
            new CpuidEntry(0xB, 0, 1, 1, 2, 0x100, 7),
            new CpuidEntry(0xB, 1, 1, 4, 8, 0x201, 7),
            new CpuidEntry(0xB, 2, 1, 0, 0, 0x2, 7),
            new CpuidEntry(0x8000_0008, 0, 0, 0x3027, 0, 0xFFFF, 0));

    private static CpuidEntry find(List<CpuidEntry> entries, int function, int index) {
        return entries.stream().filter(e -> e.function() == function && e.index() == index).findFirst().orElseThrow();
    }

    @Test
    void leaf1_carriesApicIdCountAndHypervisorBit() {
        CpuidEntry e = find(VcpuCpuid.forVcpu(SUPPORTED, 3, 4), 1, 0);
        assertEquals(3, e.ebx() >>> 24);
        assertEquals(4, (e.ebx() >>> 16) & 0xFF);
        assertEquals(1 << 31, e.ecx() & (1 << 31));
        assertEquals(1, e.ecx() & 1, "other feature bits are kept");
        assertEquals(1 << 28, e.edx() & (1 << 28), "HTT with several logical processors");
    }

    @Test
    void leaf1_singleVcpu_clearsHtt() {
        CpuidEntry e = find(VcpuCpuid.forVcpu(SUPPORTED, 0, 1), 1, 0);
        assertEquals(0, e.edx() & (1 << 28));
    }

    @Test
    void leafB_describesOneThreadPerCoreAndX2apicId() {
        List<CpuidEntry> t = VcpuCpuid.forVcpu(SUPPORTED, 2, 3);
        CpuidEntry smt = find(t, 0xB, 0);
        CpuidEntry core = find(t, 0xB, 1);
        CpuidEntry end = find(t, 0xB, 2);
        assertEquals(List.of(0, 1, 0x100, 2), List.of(smt.eax(), smt.ebx(), smt.ecx(), smt.edx()));
        assertEquals(List.of(2, 3, 0x201, 2), List.of(core.eax(), core.ebx(), core.ecx(), core.edx()));
        assertEquals(0, end.ebx());
        assertEquals(0x2, end.ecx(), "level type invalid ends the enumeration");
    }

    @Test
    void amdSizeLeaf_reportsCoreCount() {
        CpuidEntry e = find(VcpuCpuid.forVcpu(SUPPORTED, 0, 4), 0x8000_0008, 0);
        assertEquals(3, e.ecx() & 0xFF);
        assertEquals(2, (e.ecx() >>> 12) & 0xF);
    }

    @Test
    void forVcpu_idOutsideCount_isRejected() {
        assertThrows(IllegalArgumentException.class, () -> VcpuCpuid.forVcpu(SUPPORTED, 2, 2));
    }

    @Test
    void withHostFeatures_tscDeadlineCapability_setsLeaf1EcxBit24() {
        CpuidEntry e = find(VcpuCpuid.withHostFeatures(SUPPORTED, true), 1, 0);
        assertEquals(1 << 24, e.ecx() & (1 << 24));
        assertEquals(1, e.ecx() & 1, "other feature bits are kept");
    }

    @Test
    void withHostFeatures_noTscDeadlineCapability_leavesLeaf1Alone() {
        assertEquals(find(SUPPORTED, 1, 0), find(VcpuCpuid.withHostFeatures(SUPPORTED, false), 1, 0));
    }
}
