package dev.flotilla.vmm.boot;

import dev.flotilla.vmm.arch.x86_64.Layout;
import org.junit.jupiter.api.Test;

import static org.junit.jupiter.api.Assertions.*;

class KernelCommandLineTest {

    @Test
    void append_keyValue_addsSpaceSeparatedParameter() throws Exception {
        KernelCommandLine c = KernelCommandLine.of("console=ttyS0 reboot=k")
                .append("virtio_mmio.device", "4K@0xc0001000:5");
        assertEquals("console=ttyS0 reboot=k virtio_mmio.device=4K@0xc0001000:5", c.toString());
    }

    @Test
    void append_toEmptyLine_hasNoLeadingSpace() throws Exception {
        assertEquals("quiet", KernelCommandLine.empty().append("quiet").toString());
    }

    @Test
    void append_returnsNewLineAndLeavesOriginalUnchanged() throws Exception {
        KernelCommandLine base = KernelCommandLine.of("quiet");
        base.append("panic", "1");
        assertEquals("quiet", base.toString());
    }

    @Test
    void append_valueWithSpaces_isQuoted() throws Exception {
        assertEquals("init.args=\"a b\"", KernelCommandLine.empty().append("init.args", "a b").toString());
    }

    @Test
    void append_keyWithEquals_isRejected() {
        assertThrows(BootException.class, () -> KernelCommandLine.empty().append("a=b", "c"));
    }

    @Test
    void append_valueWithQuote_isRejected() {
        assertThrows(BootException.class, () -> KernelCommandLine.empty().append("a", "b\"c"));
    }

    @Test
    void of_lineWithNul_isRejectedWithPosition() {
        BootException e = assertThrows(BootException.class, () -> KernelCommandLine.of("quiet\0root=/dev/vda"));
        assertTrue(e.getMessage().contains("NUL") && e.getMessage().contains("position 5"), e.getMessage());
    }

    @Test
    void of_lineWithNewline_isRejected() {
        BootException e = assertThrows(BootException.class, () -> KernelCommandLine.of("quiet\ninit=/bin/sh"));
        assertTrue(e.getMessage().contains("line break"), e.getMessage());
    }

    @Test
    void append_parameterWithNewline_isRejected() {
        assertThrows(BootException.class, () -> KernelCommandLine.empty().append("a", "b\r"));
    }

    @Test
    void of_lineOfMaximumLength_isAccepted() throws Exception {
        String line = "x".repeat(Layout.CMDLINE_MAX - 1);
        assertEquals(Layout.CMDLINE_MAX, KernelCommandLine.of(line).toCString().length);
    }

    @Test
    void of_lineOneByteTooLong_isRejected() {
        BootException e = assertThrows(BootException.class, () -> KernelCommandLine.of("x".repeat(Layout.CMDLINE_MAX)));
        assertTrue(e.getMessage().contains("too long"), e.getMessage());
    }

    @Test
    void append_pastMaximumLength_isRejected() throws Exception {
        KernelCommandLine c = KernelCommandLine.of("x".repeat(Layout.CMDLINE_MAX - 4));
        assertThrows(BootException.class, () -> c.append("abc"));
    }

    @Test
    void length_countsUtf8Bytes() throws Exception {
        assertEquals(7, KernelCommandLine.of("name=é").length());
        assertEquals(8, KernelCommandLine.of("name=é").toCString().length);
    }

    @Test
    void toCString_isNulTerminated() throws Exception {
        byte[] c = KernelCommandLine.of("  quiet  ").toCString();
        assertArrayEquals(new byte[] {'q', 'u', 'i', 'e', 't', 0}, c);
    }
}
