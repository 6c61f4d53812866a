package dev.flotilla.node.vm;

import dev.flotilla.vmm.GuestLoader;
import dev.flotilla.vmm.arch.x86_64.BootGdt;
import dev.flotilla.vmm.arch.x86_64.InitialCpuState;
import dev.flotilla.vmm.arch.x86_64.Segment;
import dev.flotilla.vmm.boot.BootException;
import dev.flotilla.vmm.boot.BootSpec;
import dev.flotilla.vmm.memory.GuestMemory;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;

import static dev.flotilla.vmm.arch.x86_64.ControlRegisters.CR0_ET;
import static dev.flotilla.vmm.arch.x86_64.ControlRegisters.CR0_PE;
import static dev.flotilla.vmm.arch.x86_64.ControlRegisters.RFLAGS_RESERVED;

/**
 * The tiny guest: 32-bit protected-mode code, flat segments, no paging, at {@link #ENTRY}. It writes a
 * NUL-terminated banner (placed right after the code by the loader, one per sandbox) to COM1, writes the boot
 * timer's magic byte, then halts with interrupts off: with the in-kernel irqchip the vCPU then sleeps inside
 * KVM and costs the host no CPU. Its whole footprint is one page of guest RAM.
 */
public final class TinyGuest {

    static final long ENTRY = 0x1000;
    /** Code plus banner must leave room for the GDT in the same page. */
    static final int MAX_IMAGE = 0x800;
    private static final long GDT = ENTRY + MAX_IMAGE;
    private static final long IDT = GDT + 0x40;
    /** Offset of the banner in the image: right after {@link #PROGRAM}. */
    static final int BANNER_OFFSET = 28;
    /** The longest banner that fits before the GDT (with its NUL). */
    public static final int MAX_BANNER = MAX_IMAGE - BANNER_OFFSET - 1;

    /**
     * <pre>
     *  0: mov  esi, ENTRY+28        BE imm32
     *  5: mov  dx, 0x3f8            66 BA F8 03
     *  9: lodsb                     AC            ; next banner byte
     * 10: test al, al               84 C0
     * 12: jz   17                   74 03
     * 14: out  dx, al               EE            ; COM1 THR
     * 15: jmp  9                    EB F8
     * 17: mov  byte [0xc0000000], 123   C6 05 00 00 00 C0 7B   ; boot timer: "user space is up"
     * 24: cli                       FA
     * 25: hlt                       F4
     * 26: jmp  25                   EB FD
     * 28: banner, NUL
     * </pre>
     */
    static final byte[] PROGRAM = {
            (byte) 0xBE, 0x1C, 0x10, 0x00, 0x00,
            0x66, (byte) 0xBA, (byte) 0xF8, 0x03,
            (byte) 0xAC,
            (byte) 0x84, (byte) 0xC0,
            0x74, 0x03,
            (byte) 0xEE,
            (byte) 0xEB, (byte) 0xF8,
            (byte) 0xC6, 0x05, 0x00, 0x00, 0x00, (byte) 0xC0, 0x7B,
            (byte) 0xFA,
            (byte) 0xF4,
            (byte) 0xEB, (byte) 0xFD};

    private TinyGuest() {
    }

    /** Writes the program (without banner) to {@code file}: the "kernel" VmConfig checks for and the loader reads. */
    public static Path writeImage(Path file) throws IOException {
        Files.createDirectories(file.toAbsolutePath().getParent());
        if (!Files.exists(file) || !java.util.Arrays.equals(Files.readAllBytes(file), PROGRAM)) {
            dev.flotilla.node.state.AtomicFiles.write(file, PROGRAM);
        }
        return file;
    }

    /** A loader that appends {@code banner} (ASCII, truncated to {@link #MAX_BANNER}) to the program. */
    public static GuestLoader loader(byte[] program, String banner) {
        byte[] text = banner.getBytes(StandardCharsets.US_ASCII);
        int length = Math.min(text.length, MAX_BANNER);
        return (GuestMemory memory, BootSpec spec) -> load(memory, program, text, length);
    }

    private static InitialCpuState load(GuestMemory memory, byte[] program, byte[] banner, int bannerLength)
            throws BootException {
        if (program.length != BANNER_OFFSET) {
            throw new BootException("the tiny guest image is %d bytes, expected %d: it is not this agent's program"
                    .formatted(program.length, BANNER_OFFSET));
        }
        memory.write(ENTRY, program, 0, program.length);
        memory.write(ENTRY + BANNER_OFFSET, banner, 0, bannerLength);
        memory.write(ENTRY + BANNER_OFFSET + bannerLength, new byte[1], 0, 1);
        memory.writeLong(GDT + BootGdt.CODE32_SELECTOR, BootGdt.CODE32_DESCRIPTOR);
        memory.writeLong(GDT + BootGdt.DATA_SELECTOR, BootGdt.DATA_DESCRIPTOR);
        memory.writeLong(GDT + BootGdt.TSS_SELECTOR, BootGdt.TSS_DESCRIPTOR);
        Segment code = BootGdt.code32();
        Segment data = BootGdt.data();
        return new InitialCpuState(ENTRY, 0, 0, 0, RFLAGS_RESERVED, CR0_PE | CR0_ET, 0, 0, 0,
                code, data, data, data, data, data, BootGdt.tss(), BootGdt.noLdt(),
                GDT, BootGdt.GDT_LIMIT, IDT, BootGdt.IDT_LIMIT);
    }
}
