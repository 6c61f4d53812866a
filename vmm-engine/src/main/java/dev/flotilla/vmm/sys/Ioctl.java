package dev.flotilla.vmm.sys;

/**
 * Linux ioctl request numbers, built as the kernel's {@code _IO/_IOR/_IOW/_IOWR} macros do
 * (include/uapi/asm-generic/ioctl.h): dir in bits 30..31, size in 16..29, type in 8..15, nr in 0..7.
 */
public final class Ioctl {
    private Ioctl() {}

    private static final int NONE = 0;
    private static final int WRITE = 1;
    private static final int READ = 2;

    private static long make(int dir, int type, int nr, long size) {
        if (size < 0 || size >= (1 << 14)) {
            throw new IllegalArgumentException("ioctl argument size does not fit in 14 bits: " + size);
        }
        return ((long) dir << 30) | (size << 16) | ((long) type << 8) | nr;
    }

    public static long io(int type, int nr) {
        return make(NONE, type, nr, 0);
    }

    /** Kernel writes, user reads ({@code _IOR}). */
    public static long ior(int type, int nr, long size) {
        return make(READ, type, nr, size);
    }

    /** User writes, kernel reads ({@code _IOW}). */
    public static long iow(int type, int nr, long size) {
        return make(WRITE, type, nr, size);
    }

    public static long iowr(int type, int nr, long size) {
        return make(READ | WRITE, type, nr, size);
    }
}
