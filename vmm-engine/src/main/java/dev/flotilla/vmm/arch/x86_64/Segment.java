package dev.flotilla.vmm.arch.x86_64;

/**
 * A segment register's hidden state, field for field as KVM's {@code struct kvm_segment}
 * (base, limit, selector, type, present, dpl, db, s, l, g, avl).
 */
public record Segment(long base, int limit, int selector, int type, boolean present, int dpl,
                      boolean db, boolean s, boolean l, boolean g, boolean avl) {

    /** Builds the hidden state that a GDT entry {@code descriptor} loaded at {@code selector} gives. */
    public static Segment fromGdtEntry(int selector, long descriptor) {
        long base = ((descriptor >>> 16) & 0xFFFFFFL) | (((descriptor >>> 56) & 0xFF) << 24);
        int limit = (int) ((descriptor & 0xFFFF) | (((descriptor >>> 48) & 0xF) << 16));
        boolean g = ((descriptor >>> 55) & 1) != 0;
        if (g) {
            limit = (limit << 12) | 0xFFF;
        }
        return new Segment(base, limit, selector,
                (int) ((descriptor >>> 40) & 0xF),
                ((descriptor >>> 47) & 1) != 0,
                (int) ((descriptor >>> 45) & 3),
                ((descriptor >>> 54) & 1) != 0,
                ((descriptor >>> 44) & 1) != 0,
                ((descriptor >>> 53) & 1) != 0,
                g,
                ((descriptor >>> 52) & 1) != 0);
    }
}
