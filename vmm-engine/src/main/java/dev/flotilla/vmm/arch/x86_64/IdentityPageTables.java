package dev.flotilla.vmm.arch.x86_64;

import dev.flotilla.vmm.memory.GuestMemory;

/**
 * Identity-mapping page tables for entering long mode: one PML4 at {@link Layout#PML4_ADDR}, one
 * PDPT at {@link Layout#PDPT_ADDR} and {@link Layout#PD_COUNT} page directories from
 * {@link Layout#PD_ADDR} of 2 MiB pages, mapping {@code [0, IDENTITY_MAP_SIZE)} to itself
 * (Intel SDM vol. 3, 4.5 "4-level paging"). The 64-bit boot protocol needs the kernel's
 * init_size range, the zero page and the command line identity-mapped (boot.rst); mapping all
 * of the low 4 GiB also covers the initrd at the top of low RAM.
 */
public final class IdentityPageTables {
    private IdentityPageTables() {}

    public static final long PRESENT = 1L;
    public static final long WRITABLE = 1L << 1;
    /** PS bit in a PD entry: the entry maps a 2 MiB page instead of pointing at a page table. */
    public static final long PAGE_SIZE_2M = 1L << 7;
    private static final long TWO_MIB = 2L << 20;
    private static final int ENTRIES = 512;

    /** Writes the tables; the caller loads {@link Layout#PML4_ADDR} into CR3. */
    public static void write(GuestMemory memory) {
        memory.zero(Layout.PML4_ADDR, 4096);
        memory.zero(Layout.PDPT_ADDR, 4096);
        memory.writeLong(Layout.PML4_ADDR, Layout.PDPT_ADDR | PRESENT | WRITABLE);
        for (int pd = 0; pd < Layout.PD_COUNT; pd++) {
            long pdAddr = Layout.PD_ADDR + pd * 4096L;
            memory.writeLong(Layout.PDPT_ADDR + pd * 8L, pdAddr | PRESENT | WRITABLE);
            for (int i = 0; i < ENTRIES; i++) {
                long physical = ((long) pd * ENTRIES + i) * TWO_MIB;
                memory.writeLong(pdAddr + i * 8L, physical | PRESENT | WRITABLE | PAGE_SIZE_2M);
            }
        }
    }
}
