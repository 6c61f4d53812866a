package dev.flotilla.vmm.kvm;

import dev.flotilla.vmm.arch.x86_64.Segment;

/**
 * The system registers of a vCPU ({@code struct kvm_sregs}) without the pending-interrupt
 * bitmap, which the engine never injects through and always writes as zero.
 */
public record SpecialRegisters(Segment cs, Segment ds, Segment es, Segment fs, Segment gs, Segment ss,
                               Segment tr, Segment ldt, long gdtBase, int gdtLimit, long idtBase, int idtLimit,
                               long cr0, long cr2, long cr3, long cr4, long cr8, long efer, long apicBase) {
}
