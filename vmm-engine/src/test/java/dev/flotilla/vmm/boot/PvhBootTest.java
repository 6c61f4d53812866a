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
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.Optional;

import static org.junit.jupiter.api.Assertions.*;

class PvhBootTest {

    private static final long MIB = 1 << 20;
    private static final long KERNEL_PADDR = 0x100_0000;
    private static final long ENTRY = KERNEL_PADDR + 0x40;

    @TempDir
    Path dir;

    private final GuestMemory memory = SegmentGuestMemory.ofHeap(32 * MIB);

    private static byte[] pattern(int size, int seed) {
        byte[] b = new byte[size];
        for (int i = 0; i < size; i++) {
            b[i] = (byte) (i * 13 + seed);
        }
        return b;
    }

    private Path write(String name, byte[] bytes) throws IOException {
        Path p = dir.resolve(name);
        Files.write(p, bytes);
        return p;
    }

    private ElfImageBuilder validKernel() {
        return new ElfImageBuilder()
                .load(KERNEL_PADDR, pattern(0x300, 1), 0x1000)
                .load(KERNEL_PADDR + 0x20_0000, pattern(0x100, 2), 0x100)
                .pvhEntry(ENTRY);
    }

    private BootResult boot(byte[] kernel) throws Exception {
        return LinuxBoot.prepare(memory, new BootSpec(write("vmlinux", kernel), Optional.empty(), "console=ttyS0", 2));
    }

    private BootException bootFails(byte[] kernel) throws IOException {
        Path k = write("vmlinux", kernel);
        return assertThrows(BootException.class,
                () -> LinuxBoot.load(memory, new BootSpec(k, Optional.empty(), "console=ttyS0", 1)));
    }

    @Test
    void load_validElf_copiesSegmentsToPhysicalAddresses() throws Exception {
        boot(validKernel().build());
        byte[] first = new byte[0x300];
        memory.read(KERNEL_PADDR, first, 0, first.length);
        assertArrayEquals(pattern(0x300, 1), first);
        byte[] second = new byte[0x100];
        memory.read(KERNEL_PADDR + 0x20_0000, second, 0, second.length);
        assertArrayEquals(pattern(0x100, 2), second);
    }

    @Test
    void load_segmentWithBss_zeroFillsBeyondFileSize() throws Exception {
        memory.write(KERNEL_PADDR + 0x300, pattern(0xD00, 9), 0, 0xD00); // stale bytes where .bss goes
        boot(validKernel().build());
        byte[] bss = new byte[0xD00];
        memory.read(KERNEL_PADDR + 0x300, bss, 0, bss.length);
        assertArrayEquals(new byte[0xD00], bss);
    }

    @Test
    void load_pvhNote_entersAtNoteAddressIn32BitProtectedMode() throws Exception {
        BootResult r = boot(validKernel().build());
        InitialCpuState cpu = r.cpu();
        assertEquals(BootProtocol.PVH, r.protocol());
        assertEquals(ENTRY, cpu.rip());
        assertEquals(Layout.PVH_INFO_ADDR, cpu.rbx());
        assertEquals(ControlRegisters.CR0_PE | ControlRegisters.CR0_ET, cpu.cr0());
        assertEquals(0, cpu.cr4());
        assertEquals(0, cpu.efer());
        assertEquals(0, cpu.rflags() & (1 << 9), "interrupts off");
        assertEquals(BootGdt.CODE32_SELECTOR, cpu.cs().selector());
        assertTrue(cpu.cs().db());
        assertFalse(cpu.cs().l());
        assertEquals(0xFFFF_FFFF, cpu.cs().limit());
        assertEquals(BootGdt.DATA_SELECTOR, cpu.ds().selector());
        assertEquals(BootGdt.DATA_SELECTOR, cpu.ss().selector());
        assertEquals(BootGdt.DATA_SELECTOR, cpu.es().selector());
        assertEquals(Layout.GDT_ADDR, cpu.gdtBase());
    }

    @Test
    void load_fourByteEntryNote_isAccepted() throws Exception {
        byte[] kernel = new ElfImageBuilder().load(KERNEL_PADDR, pattern(0x300, 1), 0x300)
                .note("Linux", 1, new byte[4])          // another note first: must be skipped
                .pvhEntry32((int) (KERNEL_PADDR + 0x10)).build();
        assertEquals(KERNEL_PADDR + 0x10, boot(kernel).cpu().rip());
    }

    @Test
    void load_pvh_writesStartInfoWithCmdlineAndMemmap() throws Exception {
        BootResult r = boot(validKernel().build());
        long si = Layout.PVH_INFO_ADDR;
        assertEquals(0x336E_C578, memory.readInt(si));
        assertEquals(1, memory.readInt(si + 4));
        assertEquals(0, memory.readInt(si + 12), "no modules without an initrd");
        assertEquals(0, memory.readLong(si + 16));
        assertEquals(Layout.CMDLINE_ADDR, memory.readLong(si + 24));
        assertEquals(0, memory.readLong(si + 32), "no RSDP");
        assertEquals(Layout.PVH_MEMMAP_ADDR, memory.readLong(si + 40));
        assertEquals(r.e820().size(), memory.readInt(si + 48));
        for (int i = 0; i < r.e820().size(); i++) {
            E820Entry e = r.e820().get(i);
            long at = Layout.PVH_MEMMAP_ADDR + i * 24L;
            assertEquals(e.address(), memory.readLong(at));
            assertEquals(e.size(), memory.readLong(at + 8));
            assertEquals(e.type().code, memory.readInt(at + 16));
        }
        byte[] cmdline = new byte[14];
        memory.read(Layout.CMDLINE_ADDR, cmdline, 0, cmdline.length);
        assertEquals("console=ttyS0\0", new String(cmdline, StandardCharsets.US_ASCII));
    }

    @Test
    void load_pvhWithInitrd_listsInitrdAsModuleZero() throws Exception {
        Path initrd = write("initrd", pattern(5000, 4));
        BootResult r = LinuxBoot.prepare(memory, new BootSpec(write("vmlinux", validKernel().build()),
                Optional.of(initrd), "", 1));
        assertEquals(1, memory.readInt(Layout.PVH_INFO_ADDR + 12));
        assertEquals(Layout.PVH_MODLIST_ADDR, memory.readLong(Layout.PVH_INFO_ADDR + 16));
        assertEquals(r.initrdAddress(), memory.readLong(Layout.PVH_MODLIST_ADDR));
        assertEquals(5000, memory.readLong(Layout.PVH_MODLIST_ADDR + 8));
        byte[] loaded = new byte[5000];
        memory.read(r.initrdAddress(), loaded, 0, loaded.length);
        assertArrayEquals(pattern(5000, 4), loaded);
    }

    @Test
    void load_withoutPvhNote_failsNamingConfigPvh() throws IOException {
        byte[] kernel = new ElfImageBuilder().load(KERNEL_PADDR, pattern(0x300, 1), 0x300)
                .note("Linux", 1, new byte[4]).build();
        BootException e = bootFails(kernel);
        assertTrue(e.getMessage().contains("CONFIG_PVH"), e.getMessage());
    }

    @Test
    void load_32BitElf_failsSayingSo() throws IOException {
        ElfImageBuilder b = validKernel();
        b.elfClass = 1;
        assertTrue(bootFails(b.build()).getMessage().contains("32-bit ELF"));
    }

    @Test
    void load_bigEndianElf_fails() throws IOException {
        ElfImageBuilder b = validKernel();
        b.dataEncoding = 2;
        assertTrue(bootFails(b.build()).getMessage().contains("little-endian"));
    }

    @Test
    void load_elfForAnotherMachine_failsNamingTheMachine() throws IOException {
        ElfImageBuilder b = validKernel();
        b.machine = 183; // EM_AARCH64
        String m = bootFails(b.build()).getMessage();
        assertTrue(m.contains("machine 183") && m.contains("x86_64"), m);
    }

    @Test
    void load_relocatableObject_failsAsNotExecutable() throws IOException {
        ElfImageBuilder b = validKernel();
        b.type = 1; // ET_REL
        assertTrue(bootFails(b.build()).getMessage().contains("not an executable"));
    }

    @Test
    void load_badProgramHeaderSize_fails() throws IOException {
        ElfImageBuilder b = validKernel();
        b.phentsize = 32;
        assertTrue(bootFails(b.build()).getMessage().contains("program header table"));
    }

    @Test
    void load_segmentBeyondGuestMemory_failsAndWritesNothing() throws IOException {
        byte[] kernel = new ElfImageBuilder().load(KERNEL_PADDR, pattern(0x300, 1), 0x300)
                .load(31 * MIB, pattern(0x100, 2), 2 * MIB).pvhEntry(ENTRY).build();
        String m = bootFails(kernel).getMessage();
        assertTrue(m.contains("outside the guest's low RAM"), m);
        assertEquals(0, memory.readLong(KERNEL_PADDR), "the first segment must not have been copied");
    }

    @Test
    void load_segmentBelowOneMiB_failsAsOverlappingReservedMemory() throws IOException {
        byte[] kernel = new ElfImageBuilder().load(0x8000, pattern(0x300, 1), 0x300).pvhEntry(0x8000).build();
        String m = bootFails(kernel).getMessage();
        assertTrue(m.contains("below 0x100000") && m.contains("overlap"), m);
    }

    @Test
    void load_fileCutInsideASegment_failsAsTruncated() throws IOException {
        byte[] whole = validKernel().build();
        assertTrue(bootFails(Arrays.copyOf(whole, whole.length - 0x80)).getMessage().contains("truncated"));
    }

    @Test
    void load_fileSizeLargerThanMemorySize_failsAsCorrupt() throws IOException {
        ElfImageBuilder b = validKernel();
        b.extraFileSizeOfFirstLoad = 0x10_0000;
        assertTrue(bootFails(b.build()).getMessage().contains("corrupt PT_LOAD"));
    }

    @Test
    void load_entryOutsideSegments_fails() throws IOException {
        byte[] kernel = new ElfImageBuilder().load(KERNEL_PADDR, pattern(0x300, 1), 0x300).pvhEntry(0x300_0000).build();
        assertTrue(bootFails(kernel).getMessage().contains("outside all of its loaded segments"));
    }

    @Test
    void load_truncatedElfHeader_fails() throws IOException {
        byte[] kernel = Arrays.copyOf(validKernel().build(), 40);
        assertTrue(bootFails(kernel).getMessage().contains("too short"));
    }

    @Test
    void load_unknownMagic_failsShowingTheBytes() throws IOException {
        byte[] junk = "#!/bin/sh\necho hello\n".getBytes(StandardCharsets.US_ASCII);
        String m = bootFails(junk).getMessage();
        assertTrue(m.contains("neither an ELF vmlinux nor a bzImage") && m.contains("23212f62696e2f73"), m);
    }

    @Test
    void load_missingKernel_failsNamingThePath() {
        Path missing = dir.resolve("no-such-vmlinux");
        BootException e = assertThrows(BootException.class,
                () -> LinuxBoot.load(memory, new BootSpec(missing, Optional.empty(), "", 1)));
        assertTrue(e.getMessage().contains(missing.toString()) && e.getMessage().contains("does not exist"), e.getMessage());
    }
}
