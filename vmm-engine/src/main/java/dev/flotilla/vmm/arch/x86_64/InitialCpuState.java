package dev.flotilla.vmm.arch.x86_64;

/**
 * The register state a boot protocol asks for on the boot CPU: what the loaders decide, kept
 * apart from how KVM is told (the vCPU applies it with KVM_SET_REGS / KVM_SET_SREGS).
 * Application processors are started by the guest itself through INIT/SIPI and need none of this.
 */
public record InitialCpuState(
        long rip, long rsp, long rsi, long rbx, long rflags,
        long cr0, long cr3, long cr4, long efer,
        Segment cs, Segment ds, Segment es, Segment fs, Segment gs, Segment ss, Segment tr, Segment ldt,
        long gdtBase, int gdtLimit, long idtBase, int idtLimit) {
}
