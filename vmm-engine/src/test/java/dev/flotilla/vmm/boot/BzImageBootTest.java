package dev.flotilla.vmm.boot;

import dev.flotilla.vmm.arch.x86_64.BootGdt;
import dev.flotilla.vmm.arch.x86_64.ControlRegisters;
import dev.flotilla.vmm.arch.x86_64.E820Entry;
import dev.flotilla.vmm.arch.x86_64.InitialCpuState;
import dev.flotilla.vmm.arch.x86_64.Layout;
import dev.flotilla.vmm.memory.GuestMemory;
import dev.flotilla.vmm.memory.SegmentGuestMemory;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.Optional;

import static org.junit.jupiter.api.Assertions.*;

class BzImageBootTest {

    private static final long MIB = 1 << 20;
    private static final long ZP = Layout.ZERO_PAGE_ADDR;

    @TempDir
    Path dir;

    private final GuestMemory memory = SegmentGuestMemory.ofHeap(64 * MIB);

    private Path write(String name, byte[] bytes) throws IOException {
        Path p = dir.resolve(name);
        Files.write(p, bytes);
        return p;
    }

    private BootResult boot(BzImageBuilder image, Optional<byte[]> initrd, String cmdline) throws Exception {
        Path kernel = write("bzImage", image.build());
        Optional<Path> initrdPath = initrd.isPresent() ? Optional.of(write("initrd", initrd.get())) : Optional.empty();
        return LinuxBoot.prepare(memory, new BootSpec(kernel, initrdPath, cmdline, 1));
    }

    private String failure(BzImageBuilder image) throws IOException {
        Path kernel = write("bzImage", image.build());
        return assertThrows(BootException.class,
                () -> LinuxBoot.load(memory, new BootSpec(kernel, Optional.empty(), "", 1))).getMessage();
    }

    @Test
    void load_relocatableKernel_loadsProtectedModePartAtPrefAddress() throws Exception {
        BootResult r = boot(new BzImageBuilder(), Optional.empty(), "");
        assertEquals(BootProtocol.LINUX_64, r.protocol());
        assertEquals(0x100_0000, r.kernelStart());
        byte[] loaded = new byte[0x2000];
        memory.read(0x100_0000, loaded, 0, loaded.length);
        for (int i = 0; i < loaded.length; i++) {
            assertEquals(BzImageBuilder.kernelByte(i), loaded[i], "byte " + i);
        }
    }

    @Test
    void load_noUsablePrefAddress_loadsAtOneMiB() throws Exception {
        BzImageBuilder b = new BzImageBuilder();
        b.prefAddress = 0; // below 1 MiB: unusable, so the boot.rst default applies
        BootResult r = boot(b, Optional.empty(), "");
        assertEquals(Layout.HIMEM_START, r.kernelStart());
        assertEquals(Layout.HIMEM_START + 0x200, r.cpu().rip());
        assertEquals(0x20_0000 + 0x40_0000, r.kernelEnd(), "decompressor runs from align_up(1 MiB, 2 MiB) for init_size");
    }

    @Test
    void load_prefAddressBeyondMemory_failsAskingForMoreMemory() throws IOException {
        BzImageBuilder b = new BzImageBuilder();
        b.prefAddress = 0x8000_0000L; // the decompressor never runs below it, and the guest has 64 MiB
        assertTrue(failure(b).contains("give the VM more memory"));
    }

    @Test
    void load_setupSectsZero_meansFourSectors() throws Exception {
        BzImageBuilder b = new BzImageBuilder();
        b.setupSects = 0;
        boot(b, Optional.empty(), "");
        assertEquals(BzImageBuilder.kernelByte(0), memory.readByte(0x100_0000));
        assertEquals(BzImageBuilder.kernelByte(1), memory.readByte(0x100_0001));
    }

    @Test
    void load_bzImage_entersLongModeAt0x200WithZeroPageInRsi() throws Exception {
        InitialCpuState cpu = boot(new BzImageBuilder(), Optional.empty(), "").cpu();
        assertEquals(0x100_0000 + 0x200, cpu.rip());
        assertEquals(ZP, cpu.rsi());
        assertEquals(Layout.PML4_ADDR, cpu.cr3());
        assertEquals(ControlRegisters.CR0_PE | ControlRegisters.CR0_ET | ControlRegisters.CR0_PG, cpu.cr0());
        assertEquals(ControlRegisters.CR4_PAE, cpu.cr4());
        assertEquals(ControlRegisters.EFER_LME | ControlRegisters.EFER_LMA, cpu.efer());
        assertEquals(0x10, cpu.cs().selector(), "__BOOT_CS");
        assertTrue(cpu.cs().l());
        assertFalse(cpu.cs().db());
        assertEquals(0x18, cpu.ds().selector(), "__BOOT_DS");
        assertEquals(0x18, cpu.ss().selector());
        assertEquals(0x18, cpu.es().selector());
        assertEquals(BootGdt.TSS_SELECTOR, cpu.tr().selector());
        assertEquals(0, cpu.rflags() & (1 << 9), "interrupts off");
    }

    @Test
    void load_bzImage_copiesSetupHeaderIntoZeroPage() throws Exception {
        BzImageBuilder b = new BzImageBuilder();
        byte[] image = b.build();
        boot(b, Optional.empty(), "");
        assertEquals(0x5372_6448, memory.readInt(ZP + 0x202), "HdrS");
        assertEquals((short) 0x020F, memory.readShort(ZP + 0x206));
        assertEquals((short) 0xFFFF, memory.readShort(ZP + 0x1FA), "vid_mode kept");
        assertEquals(0x20_0000, memory.readInt(ZP + 0x230));
        assertEquals(0x40_0000, memory.readInt(ZP + 0x260));
        assertEquals(image[0x26B], memory.readByte(ZP + 0x26B));
        assertEquals(0, memory.readByte(ZP + 0x26C), "bytes past the declared header end stay zero");
    }

    @Test
    void load_bzImage_fillsLoaderFieldsOfZeroPage() throws Exception {
        BootResult r = boot(new BzImageBuilder(), Optional.of(new byte[10_000]), "console=ttyS0 quiet");
        assertEquals((byte) 0xFF, memory.readByte(ZP + 0x210), "type_of_loader");
        assertEquals((byte) 0x81, memory.readByte(ZP + 0x211), "loadflags LOADED_HIGH | CAN_USE_HEAP");
        assertEquals(0x100_0000, memory.readInt(ZP + 0x214), "code32_start");
        assertEquals((short) 0xDE00, memory.readShort(ZP + 0x224), "heap_end_ptr");
        assertEquals((int) Layout.CMDLINE_ADDR, memory.readInt(ZP + 0x228), "cmd_line_ptr");
        assertEquals((int) r.initrdAddress(), memory.readInt(ZP + 0x218), "ramdisk_image");
        assertEquals(10_000, memory.readInt(ZP + 0x21C), "ramdisk_size");
    }

    @Test
    void load_bzImage_writesE820TableIntoZeroPage() throws Exception {
        BootResult r = boot(new BzImageBuilder(), Optional.empty(), "");
        assertEquals(3, memory.readByte(ZP + 0x1E8));
        assertEquals(3, r.e820().size());
        long at = ZP + 0x2D0;
        assertEquals(0, memory.readLong(at));
        assertEquals(Layout.MPTABLE_ADDR, memory.readLong(at + 8));
        assertEquals(E820Entry.Type.RAM.code, memory.readInt(at + 16));
        assertEquals(Layout.MPTABLE_ADDR, memory.readLong(at + 20));
        assertEquals(Layout.EBDA_END - Layout.MPTABLE_ADDR, memory.readLong(at + 28));
        assertEquals(E820Entry.Type.RESERVED.code, memory.readInt(at + 36));
        assertEquals(Layout.HIMEM_START, memory.readLong(at + 40));
        assertEquals(64 * MIB - Layout.HIMEM_START, memory.readLong(at + 48));
        assertEquals(E820Entry.Type.RAM.code, memory.readInt(at + 56));
    }

    @Test
    void load_bzImage_writesIdentityPageTables() throws Exception {
        boot(new BzImageBuilder(), Optional.empty(), "");
        assertEquals(Layout.PDPT_ADDR | 3, memory.readLong(Layout.PML4_ADDR));
        assertEquals(Layout.PD_ADDR | 3, memory.readLong(Layout.PDPT_ADDR));
        assertEquals(0x20_0000L | 0x83, memory.readLong(Layout.PD_ADDR + 8));
    }

    @Test
    void load_initrdAddrMaxBelowRamTop_placesInitrdBelowIt() throws Exception {
        BzImageBuilder b = new BzImageBuilder();
        b.initrdAddrMax = 0x1FF_FFFF; // 32 MiB - 1
        BootResult r = boot(b, Optional.of(new byte[3 * 4096 + 5]), "");
        assertEquals(0x200_0000 - 4 * 4096, r.initrdAddress());
        assertTrue(r.initrdAddress() + r.initrdSize() - 1 <= b.initrdAddrMax);
    }

    @Test
    void load_initrd_neverOverlapsDecompressionFootprint() throws Exception {
        BzImageBuilder b = new BzImageBuilder();
        b.initSize = 0x200_0000; // kernel runs in [16 MiB, 48 MiB)
        b.initrdAddrMax = 0x2FF_FFFF;
        Path kernel = write("bzImage", b.build());
        Path initrd = write("initrd", new byte[4096]);
        BootException e = assertThrows(BootException.class,
                () -> LinuxBoot.load(memory, new BootSpec(kernel, Optional.of(initrd), "", 1)));
        assertTrue(e.getMessage().contains("does not fit"), e.getMessage());
    }

    @Test
    void load_cmdlineLongerThanCmdlineSize_fails() throws IOException {
        BzImageBuilder b = new BzImageBuilder();
        b.cmdlineSize = 8;
        Path kernel = write("bzImage", b.build());
        BootException e = assertThrows(BootException.class,
                () -> LinuxBoot.load(memory, new BootSpec(kernel, Optional.empty(), "console=ttyS0", 1)));
        assertTrue(e.getMessage().contains("cmdline_size"), e.getMessage());
    }

    @Test
    void load_protocolOlderThan212_fails() throws IOException {
        BzImageBuilder b = new BzImageBuilder();
        b.version = 0x020A;
        assertTrue(failure(b).contains("boot protocol 2.10"));
    }

    @Test
    void load_withoutKernel64Flag_failsAs32BitKernel() throws IOException {
        BzImageBuilder b = new BzImageBuilder();
        b.xloadflags = 0;
        assertTrue(failure(b).contains("XLF_KERNEL_64"));
    }

    @Test
    void load_badBootFlag_fails() throws IOException {
        BzImageBuilder b = new BzImageBuilder();
        b.bootFlag = 0x1234;
        assertTrue(failure(b).contains("boot_flag 0x1234"));
    }

    @Test
    void load_zImage_fails() throws IOException {
        BzImageBuilder b = new BzImageBuilder();
        b.loadflags = 0;
        assertTrue(failure(b).contains("zImage"));
    }

    @Test
    void load_badKernelAlignment_fails() throws IOException {
        BzImageBuilder b = new BzImageBuilder();
        b.kernelAlignment = 0x30_0000;
        assertTrue(failure(b).contains("kernel_alignment"));
    }

    @Test
    void load_initSizeBeyondMemory_failsAskingForMoreMemory() throws IOException {
        BzImageBuilder b = new BzImageBuilder();
        b.initSize = 0x1000_0000;
        assertTrue(failure(b).contains("give the VM more memory"));
    }

    @Test
    void load_imageCutAfterSetup_failsAsTruncated() throws IOException {
        byte[] image = Arrays.copyOf(new BzImageBuilder().build(), 1024 + 0x100);
        Path kernel = write("bzImage", image);
        BootException e = assertThrows(BootException.class,
                () -> LinuxBoot.load(memory, new BootSpec(kernel, Optional.empty(), "", 1)));
        assertTrue(e.getMessage().contains("truncated"), e.getMessage());
    }
}
