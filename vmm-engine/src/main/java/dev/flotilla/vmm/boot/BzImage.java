package dev.flotilla.vmm.boot;

import dev.flotilla.vmm.arch.x86_64.Layout;
import dev.flotilla.vmm.memory.GuestMemory;

import java.nio.ByteBuffer;

/**
 * Loads a {@code bzImage} for the Linux 64-bit boot protocol (Documentation/x86/boot.rst).
 *
 * <p>The file is the real-mode setup ({@code setup_sects + 1} sectors of 512 bytes, with the
 * setup header at 0x1f1) followed by the protected-mode kernel: the compressed kernel and its
 * decompressor, whose 64-bit entry is 0x200 bytes in. Only the protected-mode part is loaded;
 * the setup header is copied into the zero page ({@link ZeroPage}). Field offsets below are the
 * setup header's, as file offsets (boot.rst, "The Real-Mode Kernel Header";
 * arch/x86/include/uapi/asm/bootparam.h, struct setup_header).
 */
final class BzImage {
    private BzImage() {}

    static final int OFF_SETUP_SECTS = 0x1F1;
    static final int OFF_BOOT_FLAG = 0x1FE;
    static final int OFF_JUMP = 0x200;
    static final int OFF_HEADER = 0x202;
    static final int OFF_VERSION = 0x206;
    static final int OFF_LOADFLAGS = 0x211;
    static final int OFF_INITRD_ADDR_MAX = 0x22C;
    static final int OFF_KERNEL_ALIGNMENT = 0x230;
    static final int OFF_RELOCATABLE = 0x234;
    static final int OFF_XLOADFLAGS = 0x236;
    static final int OFF_CMDLINE_SIZE = 0x238;
    static final int OFF_PREF_ADDRESS = 0x258;
    static final int OFF_INIT_SIZE = 0x260;
    /** The first byte after the fields this loader reads (init_size ends at 0x264). */
    static final int MIN_HEADER_END = 0x264;
    /** boot_params has room for the setup header up to 0x290 (_pad7 ends there). */
    static final int MAX_HEADER_END = 0x290;

    static final int BOOT_FLAG = 0xAA55;
    static final int HDRS = 0x5372_6448; // "HdrS"
    static final int MIN_VERSION = 0x020C; // 2.12: the first with xloadflags
    static final int LOADED_HIGH = 0x01;
    static final int XLF_KERNEL_64 = 0x01;
    static final int ENTRY_64_OFFSET = 0x200;
    private static final int SECTOR = 512;

    /**
     * A loaded bzImage. {@code header} holds the setup header bytes from 0x1f1 to its end as the
     * image declares it; {@code end} is the end of the kernel's footprint: the loaded image or the
     * range the decompressor runs in ({@code init_size} from the runtime start), whichever ends later.
     */
    record Loaded(long loadAddress, long entry, long end, byte[] header, int version,
                  long initrdAddrMax, long cmdlineSize) {}

    static boolean isBzImage(byte[] prefix) {
        return prefix.length >= OFF_HEADER + 4 && ImageFile.littleEndian(prefix).getInt(OFF_HEADER) == HDRS;
    }

    static Loaded load(ImageFile file, GuestMemory memory, long lowRamEnd) throws BootException {
        String name = "kernel " + file.path();
        byte[] prefix = file.readPrefix(MAX_HEADER_END);
        if (prefix.length < MIN_HEADER_END) {
            throw new BootException(name + " is too short (%d bytes) to hold a bzImage setup header".formatted(file.size()));
        }
        ByteBuffer h = ImageFile.littleEndian(prefix);
        int bootFlag = Short.toUnsignedInt(h.getShort(OFF_BOOT_FLAG));
        if (bootFlag != BOOT_FLAG) {
            throw new BootException(name + " has boot_flag 0x%04x instead of 0xAA55: not a valid bzImage".formatted(bootFlag));
        }
        int version = Short.toUnsignedInt(h.getShort(OFF_VERSION));
        if (version < MIN_VERSION) {
            throw new BootException(name + " speaks boot protocol %d.%02d; the 64-bit entry needs 2.12 or later (Linux 3.8+)"
                    .formatted(version >> 8, version & 0xFF));
        }
        int xloadflags = Short.toUnsignedInt(h.getShort(OFF_XLOADFLAGS));
        if ((xloadflags & XLF_KERNEL_64) == 0) {
            throw new BootException(name + " has no 64-bit entry point (XLF_KERNEL_64 clear in xloadflags 0x%x): "
                    .formatted(xloadflags) + "it is a 32-bit kernel, and only x86_64 kernels are supported");
        }
        if ((h.get(OFF_LOADFLAGS) & LOADED_HIGH) == 0) {
            throw new BootException(name + " is a zImage (LOADED_HIGH clear): only bzImage kernels are supported");
        }
        int headerEnd = Math.min(MAX_HEADER_END, OFF_HEADER + Byte.toUnsignedInt(h.get(OFF_JUMP + 1)));
        headerEnd = Math.max(headerEnd, MIN_HEADER_END);
        byte[] header = java.util.Arrays.copyOfRange(prefix, OFF_SETUP_SECTS, headerEnd);

        int setupSects = Byte.toUnsignedInt(h.get(OFF_SETUP_SECTS));
        if (setupSects == 0) {
            setupSects = 4; // boot.rst: "if the setup_sects field contains 0, the real value is 4"
        }
        long kernelOffset = (long) (setupSects + 1) * SECTOR;
        long kernelSize = file.size() - kernelOffset;
        if (kernelSize <= ENTRY_64_OFFSET) {
            throw new BootException(name + " is truncated: its setup is %d bytes but the file has only %d bytes, "
                    .formatted(kernelOffset, file.size()) + "leaving no protected-mode kernel behind it");
        }

        boolean relocatable = h.get(OFF_RELOCATABLE) != 0;
        long alignment = Integer.toUnsignedLong(h.getInt(OFF_KERNEL_ALIGNMENT));
        long prefAddress = h.getLong(OFF_PREF_ADDRESS);
        long initSize = Integer.toUnsignedLong(h.getInt(OFF_INIT_SIZE));
        if (relocatable && (alignment == 0 || Long.bitCount(alignment) != 1)) {
            throw new BootException(name + " has a corrupt setup header: kernel_alignment 0x%x is not a power of two".formatted(alignment));
        }
        if (prefAddress < 0 || prefAddress >= Layout.MMIO_HOLE_START) {
            throw new BootException(name + " wants to run at 0x%x (pref_address), beyond low RAM".formatted(prefAddress));
        }

        // Where the decompressor will run: boot.rst ("init_size") gives align_up(load, kernel_alignment)
        // for relocatable kernels and pref_address otherwise; arch/x86/boot/compressed/head_64.S
        // additionally never goes below LOAD_PHYSICAL_ADDR, which is what pref_address holds.
        // Loading at pref_address (when it fits) means the decompressor need not move itself.
        long loadAddress = prefAddress >= Layout.HIMEM_START && footprintEnd(prefAddress, kernelSize, relocatable,
                alignment, prefAddress, initSize) <= lowRamEnd ? prefAddress : Layout.HIMEM_START;
        long end = footprintEnd(loadAddress, kernelSize, relocatable, alignment, prefAddress, initSize);
        if (end > lowRamEnd) {
            throw new BootException(name + " needs guest RAM up to 0x%x (load address 0x%x, init_size 0x%x) but low RAM ends at 0x%x: "
                    .formatted(end, loadAddress, initSize, lowRamEnd) + "give the VM more memory");
        }
        file.copyTo(memory, loadAddress, kernelOffset, kernelSize);
        long initrdAddrMax = Integer.toUnsignedLong(h.getInt(OFF_INITRD_ADDR_MAX));
        long cmdlineSize = Integer.toUnsignedLong(h.getInt(OFF_CMDLINE_SIZE));
        return new Loaded(loadAddress, loadAddress + ENTRY_64_OFFSET, end, header, version, initrdAddrMax, cmdlineSize);
    }

    private static long footprintEnd(long load, long kernelSize, boolean relocatable, long alignment, long prefAddress,
                                     long initSize) {
        long runtimeStart = relocatable ? Math.max((load + alignment - 1) & -alignment, prefAddress) : prefAddress;
        return Math.max(load + kernelSize, runtimeStart + initSize);
    }
}
