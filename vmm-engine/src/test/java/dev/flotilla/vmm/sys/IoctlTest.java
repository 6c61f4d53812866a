package dev.flotilla.vmm.sys;

import org.junit.jupiter.api.Test;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

class IoctlTest {

    @Test
    void iowr_sizeAndDirection_encodedInHighBits() {
        // _IOWR(0xAE, 0x05, struct kvm_cpuid2) from the kernel headers
        assertEquals(0xc008ae05L, Ioctl.iowr(0xAE, 0x05, 8));
    }

    @Test
    void io_noArgument_isTypeAndNumberOnly() {
        assertEquals(0xae80L, Ioctl.io(0xAE, 0x80));
    }

    @Test
    void iow_sizeBeyond14Bits_isRejected() {
        assertThrows(IllegalArgumentException.class, () -> Ioctl.iow(0xAE, 1, 1 << 14));
    }
}
