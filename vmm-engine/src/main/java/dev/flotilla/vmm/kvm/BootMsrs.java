package dev.flotilla.vmm.kvm;

import java.util.List;

/**
 * The MSRs a vCPU starts with, as Firecracker sets them: syscall/sysenter entry points cleared,
 * TSC at zero, fast string operations enabled, and MTRRs on with write-back as the default memory
 * type (otherwise a guest treats all RAM as uncached and runs very slowly).
 */
public final class BootMsrs {
    private BootMsrs() {}

    public static final int IA32_TSC = 0x10;
    public static final int IA32_SYSENTER_CS = 0x174;
    public static final int IA32_SYSENTER_ESP = 0x175;
    public static final int IA32_SYSENTER_EIP = 0x176;
    public static final int IA32_MISC_ENABLE = 0x1A0;
    public static final int MTRR_DEF_TYPE = 0x2FF;
    public static final int STAR = 0xC000_0081;
    public static final int LSTAR = 0xC000_0082;
    public static final int CSTAR = 0xC000_0083;
    public static final int SYSCALL_MASK = 0xC000_0084;
    public static final int KERNEL_GS_BASE = 0xC000_0102;

    public static final long MISC_ENABLE_FAST_STRING = 1;
    public static final long MTRR_ENABLE = 1 << 11;
    public static final long MEMORY_TYPE_WRITE_BACK = 6;

    public static List<MsrEntry> entries() {
        return List.of(
                new MsrEntry(IA32_SYSENTER_CS, 0),
                new MsrEntry(IA32_SYSENTER_ESP, 0),
                new MsrEntry(IA32_SYSENTER_EIP, 0),
                new MsrEntry(STAR, 0),
                new MsrEntry(CSTAR, 0),
                new MsrEntry(KERNEL_GS_BASE, 0),
                new MsrEntry(SYSCALL_MASK, 0),
                new MsrEntry(LSTAR, 0),
                new MsrEntry(IA32_TSC, 0),
                new MsrEntry(IA32_MISC_ENABLE, MISC_ENABLE_FAST_STRING),
                new MsrEntry(MTRR_DEF_TYPE, MTRR_ENABLE | MEMORY_TYPE_WRITE_BACK));
    }
}
