package dev.flotilla.vmm.sys;

import org.junit.jupiter.api.Test;

import static org.junit.jupiter.api.Assertions.*;

/**
 * {@link Tun} and {@link Iovec} against the values a C compiler gives for linux/if_tun.h, net/if.h
 * and sys/uio.h (Debian 12, printed once with sizeof/offsetof and the ioctl macros).
 */
class TunAbiTest {

    @Test
    void ifreq_layout_matchesHeaders() {
        assertEquals(40, Tun.IFREQ.byteSize());
        assertEquals(0, Tun.IFREQ_NAME);
        assertEquals(16, Tun.IFREQ_FLAGS);
        assertEquals(16, Tun.IFNAMSIZ);
    }

    @Test
    void ioctlNumbers_matchHeaders() {
        assertEquals(0x400454caL, Tun.TUNSETIFF);
        assertEquals(0x400454d0L, Tun.TUNSETOFFLOAD);
        assertEquals(0x400454d8L, Tun.TUNSETVNETHDRSZ);
    }

    @Test
    void flags_matchHeaders() {
        assertEquals(0x2, Tun.IFF_TAP);
        assertEquals(0x1000, Tun.IFF_NO_PI);
        assertEquals(0x4000, Tun.IFF_VNET_HDR);
        assertEquals(0x1, Tun.TUN_F_CSUM);
        assertEquals(0x2, Tun.TUN_F_TSO4);
        assertEquals(0x4, Tun.TUN_F_TSO6);
        assertEquals(0x800, Libc.O_NONBLOCK);
        assertEquals(0x80000000, Libc.EPOLLET);
    }

    @Test
    void iovec_layout_matchesHeaders() {
        assertEquals(16, Iovec.LAYOUT.byteSize());
        assertEquals(0, Iovec.BASE);
        assertEquals(8, Iovec.LENGTH);
    }

    @Test
    void interfaceNames_validated() {
        assertTrue(Tun.validInterfaceName("tap0"));
        assertTrue(Tun.validInterfaceName("fc-tap-123456"));
        assertFalse(Tun.validInterfaceName(""));
        assertFalse(Tun.validInterfaceName("sixteen-chars-xx"));
        assertFalse(Tun.validInterfaceName("a/b"));
        assertFalse(Tun.validInterfaceName("a b"));
        assertFalse(Tun.validInterfaceName(".."));
        assertFalse(Tun.validInterfaceName(null));
    }

    @Test
    void openTap_invalidName_refusedBeforeAnySyscall() {
        assertThrows(IllegalArgumentException.class, () -> Tun.openTap("bad/name", 12));
    }
}
