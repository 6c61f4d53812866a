package dev.flotilla.vmm.arch.x86_64;

import dev.flotilla.vmm.memory.GuestMemory;

/**
 * The GDT both boot protocols start on, written at {@link Layout#GDT_ADDR}, and the segment
 * registers' hidden state that goes with it (each built from the very descriptor written, so
 * the registers and the table cannot disagree).
 *
 * <p>Selector choice: the 64-bit boot protocol (Documentation/x86/boot.rst, "64-bit Boot
 * Protocol") asks for {@code __BOOT_CS = 0x10} and {@code __BOOT_DS = 0x18}, both flat. PVH
 * (xen/include/public/arch-x86/hvm/start_info.h and Xen's docs/misc/pvh.pandoc) asks for a flat
 * 32-bit code segment, flat data and a 32-bit TSS. So: 0x08 32-bit code (PVH), 0x10 64-bit code,
 * 0x18 data, 0x20 TSS. The TSS descriptor is 16 bytes in long mode; its upper half (base bits
 * 63:32) stays zero. The kernel loads its own GDT, IDT and TSS early; these only carry it there.
 */
public final class BootGdt {
    private BootGdt() {}

    public static final int CODE32_SELECTOR = 0x08;
    public static final int CODE64_SELECTOR = 0x10;
    public static final int DATA_SELECTOR = 0x18;
    public static final int TSS_SELECTOR = 0x20;

    // Access byte + flags nibble as in the descriptor's bits 40..55 (Intel SDM vol. 3, 3.4.5).
    // Types have the accessed bit set: VM entry requires it for usable code/data segments.
    private static final int CODE64_FLAGS = 0xA09B; // G, L, P, S, type 0xB (execute/read, accessed)
    private static final int CODE32_FLAGS = 0xC09B; // G, D/B, P, S, type 0xB
    private static final int DATA_FLAGS = 0xC093;   // G, D/B, P, S, type 0x3 (read/write, accessed)
    private static final int TSS_FLAGS = 0x008B;    // P, type 0xB (busy 32/64-bit TSS), byte granular
    /** A minimal TSS (104 bytes, Intel SDM 7.7): VM entry only needs TR to look like a busy TSS. */
    private static final int TSS_LIMIT = 0x67;

    public static final long NULL_DESCRIPTOR = 0;
    public static final long CODE32_DESCRIPTOR = descriptor(CODE32_FLAGS, 0, 0xFFFFF);
    public static final long CODE64_DESCRIPTOR = descriptor(CODE64_FLAGS, 0, 0xFFFFF);
    public static final long DATA_DESCRIPTOR = descriptor(DATA_FLAGS, 0, 0xFFFFF);
    public static final long TSS_DESCRIPTOR = descriptor(TSS_FLAGS, 0, TSS_LIMIT);

    /** GDTR limit: the table's size minus one. */
    public static final int GDT_LIMIT = Layout.GDT_SIZE - 1;
    /** IDTR limit for the empty IDT: one zeroed (not present) gate, so any interrupt ends in a triple fault. */
    public static final int IDT_LIMIT = 15;

    /** Encodes a segment descriptor from its flag bits, 32-bit base and 20-bit limit. */
    public static long descriptor(int flags, long base, int limit) {
        return ((base & 0xFF00_0000L) << 32)
                | ((base & 0x00FF_FFFFL) << 16)
                | (limit & 0xFFFFL)
                | ((limit & 0xF_0000L) << 32)
                | (((long) flags & 0xF0FF) << 40);
    }

    /** Writes the GDT and a zeroed IDT. */
    public static void write(GuestMemory memory) {
        memory.zero(Layout.GDT_ADDR, Layout.GDT_SIZE);
        memory.writeLong(Layout.GDT_ADDR + CODE32_SELECTOR, CODE32_DESCRIPTOR);
        memory.writeLong(Layout.GDT_ADDR + CODE64_SELECTOR, CODE64_DESCRIPTOR);
        memory.writeLong(Layout.GDT_ADDR + DATA_SELECTOR, DATA_DESCRIPTOR);
        memory.writeLong(Layout.GDT_ADDR + TSS_SELECTOR, TSS_DESCRIPTOR);
        memory.zero(Layout.IDT_ADDR, IDT_LIMIT + 1);
    }

    public static Segment code64() {
        return Segment.fromGdtEntry(CODE64_SELECTOR, CODE64_DESCRIPTOR);
    }

    public static Segment code32() {
        return Segment.fromGdtEntry(CODE32_SELECTOR, CODE32_DESCRIPTOR);
    }

    public static Segment data() {
        return Segment.fromGdtEntry(DATA_SELECTOR, DATA_DESCRIPTOR);
    }

    public static Segment tss() {
        return Segment.fromGdtEntry(TSS_SELECTOR, TSS_DESCRIPTOR);
    }

    /** An unusable LDT (not present): no LDT at boot. */
    public static Segment noLdt() {
        return new Segment(0, 0, 0, 0x2, false, 0, false, false, false, false, false);
    }
}
