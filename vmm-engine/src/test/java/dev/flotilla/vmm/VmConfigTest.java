package dev.flotilla.vmm;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

class VmConfigTest {

    @TempDir
    Path dir;

    private VmConfig.Builder valid() throws IOException {
        Path kernel = Files.write(dir.resolve("vmlinux"), new byte[]{1});
        return VmConfig.builder().kernel(kernel).consoleOutput(new ByteArrayOutputStream());
    }

    @Test
    void build_validConfig_keepsValues() throws IOException {
        VmConfig c = valid().vcpus(2).memoryMib(256).cmdline("  console=ttyS0 ").build();
        assertEquals(2, c.vcpus());
        assertEquals(256L << 20, c.memoryBytes());
        assertEquals("console=ttyS0", c.cmdline());
    }

    @Test
    void build_zeroVcpus_isRejected() throws IOException {
        VmConfig.Builder b = valid().vcpus(0);
        assertTrue(assertThrows(IllegalArgumentException.class, b::build).getMessage().contains("vcpus must be 1 to"));
    }

    @Test
    void build_tooManyVcpus_isRejected() throws IOException {
        VmConfig.Builder b = valid().vcpus(VmConfig.MAX_VCPUS + 1);
        assertThrows(IllegalArgumentException.class, b::build);
    }

    @Test
    void build_tooLittleMemory_isRejected() throws IOException {
        VmConfig.Builder b = valid().memoryMib(VmConfig.MIN_MEMORY_MIB - 1);
        assertTrue(assertThrows(IllegalArgumentException.class, b::build).getMessage().contains("memory must be"));
    }

    @Test
    void build_missingKernelAndInitrd_reportsBothProblemsAtOnce() {
        VmConfig.Builder b = VmConfig.builder().kernel(dir.resolve("nope")).initrd(dir.resolve("nada"));
        String m = assertThrows(IllegalArgumentException.class, b::build).getMessage();
        assertTrue(m.contains("kernel " + dir.resolve("nope")) && m.contains("initrd " + dir.resolve("nada")), m);
    }

    @Test
    void build_cmdlineWithNul_isRejected() throws IOException {
        VmConfig.Builder b = valid().cmdline("a\0b");
        assertThrows(IllegalArgumentException.class, b::build);
    }

    @Test
    void build_overlongCmdline_isRejected() throws IOException {
        VmConfig.Builder b = valid().cmdline("x".repeat(4000));
        assertTrue(assertThrows(IllegalArgumentException.class, b::build).getMessage().contains("command line"));
    }

    @Test
    void kernelCommandLine_appendsVmmOptionsAndDeviceEntries() {
        assertEquals("console=ttyS0 reboot=k panic=1 pci=off i8042.noaux i8042.nomux i8042.nopnp i8042.dumbkbd "
                        + "virtio_mmio.device=4K@0xc0001000:5",
                MicroVm.kernelCommandLine("console=ttyS0", List.of("virtio_mmio.device=4K@0xc0001000:5")));
    }

    @Test
    void kernelCommandLine_optionTheCallerSet_isNotAppendedAgain() {
        String c = MicroVm.kernelCommandLine("panic=-1 console=ttyS0", List.of());
        assertTrue(c.startsWith("panic=-1 console=ttyS0 reboot=k pci=off"), c);
        assertEquals(1, c.split("panic=").length - 1);
    }
}
