package dev.flotilla.vmm.sys;

/** The errno values the engine reacts to (asm-generic/errno-base.h, x86_64). */
public final class Errno {
    private Errno() {}

    public static final int ENOENT = 2;
    public static final int EINTR = 4;
    public static final int EAGAIN = 11;
    public static final int ENOMEM = 12;
    public static final int EACCES = 13;
    public static final int EFAULT = 14;
    public static final int EEXIST = 17;
    public static final int ENODEV = 19;
    public static final int EINVAL = 22;
    public static final int ENXIO = 6;
    public static final int E2BIG = 7;
}
