package dev.flotilla.vmm.sys;

import java.lang.foreign.Arena;
import java.lang.foreign.MemoryLayout;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.StructLayout;
import java.lang.foreign.ValueLayout;
import java.nio.charset.StandardCharsets;

import static java.lang.foreign.MemoryLayout.paddingLayout;
import static java.lang.foreign.MemoryLayout.sequenceLayout;

/**
 * The tun/tap ABI ({@code linux/if_tun.h}, {@code net/if.h}), written by hand: {@code struct
 * ifreq} as TUNSETIFF uses it, the ioctl numbers and flags. Values checked by {@code TunAbiTest}
 * against a C compiler's view of the headers.
 */
public final class Tun {
    private Tun() {}

    public static final String CLONE_DEVICE = "/dev/net/tun";
    public static final int IFNAMSIZ = 16;

    /** _IOW('T', 202, int). Attaches the fd to the named interface, creating it if it does not exist. */
    public static final long TUNSETIFF = Ioctl.iow('T', 202, 4);
    /** _IOW('T', 208, unsigned int): the offloads the tap may hand us (TUN_F_*). */
    public static final long TUNSETOFFLOAD = Ioctl.iow('T', 208, 4);
    /** _IOW('T', 216, int): size of the virtio-net header prepended to every frame. */
    public static final long TUNSETVNETHDRSZ = Ioctl.iow('T', 216, 4);

    public static final int IFF_TAP = 0x0002;
    public static final int IFF_NO_PI = 0x1000;
    public static final int IFF_VNET_HDR = 0x4000;

    public static final int TUN_F_CSUM = 0x01;
    public static final int TUN_F_TSO4 = 0x02;
    public static final int TUN_F_TSO6 = 0x04;

    /** {@code struct ifreq}: the name, then a union whose first member TUNSETIFF uses as short flags. */
    public static final StructLayout IFREQ = MemoryLayout.structLayout(
            sequenceLayout(IFNAMSIZ, ValueLayout.JAVA_BYTE).withName("ifr_name"),
            ValueLayout.JAVA_SHORT.withName("ifr_flags"),
            paddingLayout(22)).withName("ifreq");
    public static final long IFREQ_NAME = 0;
    public static final long IFREQ_FLAGS = IFREQ.byteOffset(MemoryLayout.PathElement.groupElement("ifr_flags"));

    /** True when {@code name} is a usable interface name (1..15 bytes, no '/', whitespace or NUL). */
    public static boolean validInterfaceName(String name) {
        if (name == null || name.isEmpty() || name.getBytes(StandardCharsets.UTF_8).length >= IFNAMSIZ
                || name.equals(".") || name.equals("..")) {
            return false;
        }
        for (int i = 0; i < name.length(); i++) {
            char c = name.charAt(i);
            if (c <= ' ' || c == '/' || c == ':' || c >= 0x7f) {
                return false;
            }
        }
        return true;
    }

    /**
     * Opens /dev/net/tun non-blocking and attaches it to tap {@code name} with IFF_TAP | IFF_NO_PI
     * | IFF_VNET_HDR (the kernel creates the interface if it does not exist, which needs
     * CAP_NET_ADMIN), then sets the virtio-net header size. Returns the fd.
     */
    public static int openTap(String name, int vnetHeaderSize) {
        if (!validInterfaceName(name)) {
            throw new IllegalArgumentException("'" + name + "' is not a valid interface name (1-15 characters, no '/', ':' or blanks)");
        }
        int fd = Libc.open(CLONE_DEVICE, Libc.O_RDWR | Libc.O_NONBLOCK | Libc.O_CLOEXEC);
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment ifr = arena.allocate(IFREQ);
            byte[] bytes = name.getBytes(StandardCharsets.UTF_8);
            MemorySegment.copy(bytes, 0, ifr, ValueLayout.JAVA_BYTE, IFREQ_NAME, bytes.length);
            ifr.set(ValueLayout.JAVA_SHORT, IFREQ_FLAGS, (short) (IFF_TAP | IFF_NO_PI | IFF_VNET_HDR));
            Libc.ioctl(fd, TUNSETIFF, ifr, "TUNSETIFF " + name);
            MemorySegment size = arena.allocate(ValueLayout.JAVA_INT);
            size.set(ValueLayout.JAVA_INT, 0, vnetHeaderSize);
            Libc.ioctl(fd, TUNSETVNETHDRSZ, size, "TUNSETVNETHDRSZ " + vnetHeaderSize);
            return fd;
        } catch (RuntimeException e) {
            Libc.close(fd);
            throw e;
        }
    }

    /** TUNSETOFFLOAD: which TUN_F_* offloads frames read from the tap may carry. */
    public static void setOffload(int fd, int flags) {
        Libc.ioctl(fd, TUNSETOFFLOAD, Integer.toUnsignedLong(flags), "TUNSETOFFLOAD " + flags);
    }
}
