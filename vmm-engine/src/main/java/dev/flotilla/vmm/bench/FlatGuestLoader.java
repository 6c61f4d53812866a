package dev.flotilla.vmm.bench;

import dev.flotilla.vmm.GuestLoader;
import dev.flotilla.vmm.arch.x86_64.BootGdt;
import dev.flotilla.vmm.arch.x86_64.InitialCpuState;
import dev.flotilla.vmm.arch.x86_64.Segment;
import dev.flotilla.vmm.boot.BootException;
import dev.flotilla.vmm.boot.BootSpec;
import dev.flotilla.vmm.memory.GuestMemory;

import java.io.IOException;
import java.nio.file.Files;

import static dev.flotilla.vmm.arch.x86_64.ControlRegisters.CR0_ET;
import static dev.flotilla.vmm.arch.x86_64.ControlRegisters.CR0_PE;
import static dev.flotilla.vmm.arch.x86_64.ControlRegisters.RFLAGS_RESERVED;

/**
 * Loads a flat binary (the {@link BootSpec#kernel()} file) at {@link #ENTRY} and starts it in
 * 32-bit protected mode with flat segments and paging off, so that it can reach the boot timer
 * at 0xC0000000 with one instruction. The GDT goes into the same page as the code: a tiny guest
 * costs the host one page of guest RAM, as the raw-ioctl baseline's does.
 */
final class FlatGuestLoader implements GuestLoader {

    static final long ENTRY = 0x1000;
    /** The image may fill the page up to the GDT. */
    static final int MAX_IMAGE = 0x800;
    private static final long GDT = ENTRY + MAX_IMAGE;
    private static final long IDT = GDT + 0x40;

    /**
     * <pre>
     *   movb $123, 0xc0000000     # the boot timer's magic: "user space is up"
     *   cli
     * 1: hlt                      # with the in-kernel irqchip the vCPU now waits inside KVM
     *   jmp 1b
     * </pre>
     * (GNU as {@code --32}, {@code objcopy -O binary}.)
     */
    static final byte[] BOOT_TIMER_THEN_HALT = {
            (byte) 0xC6, 0x05, 0x00, 0x00, 0x00, (byte) 0xC0, 0x7B, (byte) 0xFA, (byte) 0xF4, (byte) 0xEB, (byte) 0xFD};

    @Override
    public InitialCpuState load(GuestMemory memory, BootSpec spec) throws IOException, BootException {
        byte[] image = Files.readAllBytes(spec.kernel());
        if (image.length == 0 || image.length > MAX_IMAGE) {
            throw new BootException("flat guest image %s is %d bytes; it must be 1 to %d"
                    .formatted(spec.kernel(), image.length, MAX_IMAGE));
        }
        memory.write(ENTRY, image, 0, image.length);
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
