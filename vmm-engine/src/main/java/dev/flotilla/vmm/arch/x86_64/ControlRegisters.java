package dev.flotilla.vmm.arch.x86_64;

/** Control register, EFER and RFLAGS bits the boot paths set (Intel SDM vol. 3, 2.5 and 2.2.1). */
public final class ControlRegisters {
    private ControlRegisters() {}

    public static final long CR0_PE = 1L;        // protected mode
    public static final long CR0_ET = 1L << 4;   // extension type: hard-wired 1 on anything since the 486
    public static final long CR0_PG = 1L << 31;  // paging
    public static final long CR4_PAE = 1L << 5;
    public static final long EFER_LME = 1L << 8; // long mode enable
    public static final long EFER_LMA = 1L << 10; // long mode active (KVM_SET_SREGS wants it set with LME|PG)
    /** RFLAGS bit 1 always reads as 1; everything else (IF in particular) clear. */
    public static final long RFLAGS_RESERVED = 1L << 1;
}
