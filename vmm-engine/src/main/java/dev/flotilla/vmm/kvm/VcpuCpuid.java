package dev.flotilla.vmm.kvm;

import java.util.ArrayList;
import java.util.List;

/**
 * Turns KVM's supported CPUID into the table one vCPU sees: its own APIC id, a topology of
 * {@code vcpuCount} single-thread cores in one socket, and the hypervisor bit. Pure function of
 * its inputs, so it is unit-tested without KVM.
 */
public final class VcpuCpuid {
    private VcpuCpuid() {}

    static final int LEAF_FEATURES = 0x1;
    static final int LEAF_CACHE_PARAMETERS = 0x4;
    static final int LEAF_EXTENDED_TOPOLOGY = 0xB;
    static final int LEAF_EXTENDED_TOPOLOGY_V2 = 0x1F;
    static final int LEAF_AMD_SIZE_IDS = 0x8000_0008;

    static final int ECX_HYPERVISOR = 1 << 31;
    static final int ECX_TSC_DEADLINE = 1 << 24;
    static final int EDX_HTT = 1 << 28;

    /** Topology level types of leaf 0xB/0x1F ECX[15:8]. */
    static final int LEVEL_INVALID = 0;
    static final int LEVEL_SMT = 1;
    static final int LEVEL_CORE = 2;

    /**
     * Adds to KVM's supported CPUID what KVM emulates but, by its API's definition, does not report
     * there (Documentation/virt/kvm/api.rst, KVM_GET_SUPPORTED_CPUID): the LAPIC's TSC-deadline
     * timer mode, available when KVM_CAP_TSC_DEADLINE_TIMER is. Without it Linux must calibrate
     * the LAPIC timer against the PIT, which fails on a slow or nested host ("lapic is not
     * functional": no one-shot timer, so no high-resolution timers and no tickless idle).
     */
    public static List<CpuidEntry> withHostFeatures(List<CpuidEntry> supported, boolean tscDeadline) {
        List<CpuidEntry> out = new ArrayList<>(supported.size());
        for (CpuidEntry e : supported) {
            out.add(e.function() == LEAF_FEATURES && tscDeadline ? e.withEcx(e.ecx() | ECX_TSC_DEADLINE) : e);
        }
        return List.copyOf(out);
    }

    public static List<CpuidEntry> forVcpu(List<CpuidEntry> supported, int apicId, int vcpuCount) {
        if (vcpuCount < 1 || apicId < 0 || apicId >= vcpuCount || vcpuCount > 255) {
            throw new IllegalArgumentException("vCPU %d of %d is not a valid xAPIC topology".formatted(apicId, vcpuCount));
        }
        int coreBits = 32 - Integer.numberOfLeadingZeros(Math.max(vcpuCount - 1, 0));
        List<CpuidEntry> out = new ArrayList<>(supported.size());
        for (CpuidEntry e : supported) {
            out.add(switch (e.function()) {
                case LEAF_FEATURES -> {
                    // EBX: [31:24] initial APIC id, [23:16] logical processors per package, [15:8] CLFLUSH 8*8 bytes.
                    int ebx = (apicId << 24) | (vcpuCount << 16) | (8 << 8) | (e.ebx() & 0xFF);
                    int edx = vcpuCount > 1 ? e.edx() | EDX_HTT : e.edx() & ~EDX_HTT;
                    yield e.withEbx(ebx).withEcx(e.ecx() | ECX_HYPERVISOR).withEdx(edx);
                }
                case LEAF_CACHE_PARAMETERS -> {
                    // EAX[31:26]: cores per package - 1; EAX[25:14]: threads sharing this cache - 1 (one per core,
                    // all cores for the last level, which is what a single-socket guest expects).
                    int level = (e.eax() >>> 5) & 0x7;
                    int sharing = level >= 3 ? vcpuCount - 1 : 0;
                    int eax = (e.eax() & 0x3FFF) | (sharing << 14) | ((vcpuCount - 1) << 26);
                    yield (e.eax() & 0x1F) == 0 ? e : e.withEax(eax);
                }
                case LEAF_EXTENDED_TOPOLOGY, LEAF_EXTENDED_TOPOLOGY_V2 -> topology(e, apicId, vcpuCount, coreBits);
                case LEAF_AMD_SIZE_IDS -> {
                    // ECX[15:12]: APIC id bits for cores, [7:0]: cores per package - 1.
                    int ecx = (e.ecx() & ~0xF0FF) | (coreBits << 12) | (vcpuCount - 1);
                    yield e.withEcx(ecx);
                }
                default -> e;
            });
        }
        return List.copyOf(out);
    }

    private static CpuidEntry topology(CpuidEntry e, int apicId, int vcpuCount, int coreBits) {
        return switch (e.index()) {
            // EAX: shift to the next level's id; EBX: logical processors at this level; ECX: type << 8 | index.
            case 0 -> new CpuidEntry(e.function(), 0, e.flags(), 0, 1, (LEVEL_SMT << 8), apicId);
            case 1 -> new CpuidEntry(e.function(), 1, e.flags(), coreBits, vcpuCount, (LEVEL_CORE << 8) | 1, apicId);
            default -> new CpuidEntry(e.function(), e.index(), e.flags(), 0, 0,
                    (LEVEL_INVALID << 8) | (e.index() & 0xFF), apicId);
        };
    }
}
