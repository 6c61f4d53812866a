package dev.flotilla.vmm.boot;

import dev.flotilla.vmm.arch.x86_64.E820Entry;
import dev.flotilla.vmm.arch.x86_64.Layout;
import dev.flotilla.vmm.memory.GuestMemory;

import java.util.List;

/**
 * Writes {@code struct boot_params} (the "zero page") for the 64-bit boot protocol at
 * {@link Layout#ZERO_PAGE_ADDR}. Offsets from Documentation/x86/zero-page.rst and
 * arch/x86/include/uapi/asm/bootparam.h; the setup-header fields we fill in are those boot.rst
 * marks "write" or "modify" for the boot loader.
 */
final class ZeroPage {
    private ZeroPage() {}

    static final int SIZE = 4096;
    static final int OFF_E820_ENTRIES = 0x1E8;
    static final int OFF_SETUP_HEADER = 0x1F1;
    static final int OFF_TYPE_OF_LOADER = 0x210;
    static final int OFF_LOADFLAGS = 0x211;
    static final int OFF_CODE32_START = 0x214;
    static final int OFF_RAMDISK_IMAGE = 0x218;
    static final int OFF_RAMDISK_SIZE = 0x21C;
    static final int OFF_HEAP_END_PTR = 0x224;
    static final int OFF_CMD_LINE_PTR = 0x228;
    static final int OFF_E820_TABLE = 0x2D0;
    static final int E820_ENTRY_SIZE = 20;
    static final int E820_MAX_ENTRIES = 128; // E820_MAX_ENTRIES_ZEROPAGE

    /** boot.rst: 0xFF = "undefined" loader, for loaders without an assigned id. */
    static final int TYPE_OF_LOADER_UNDEFINED = 0xFF;
    static final int LOADED_HIGH = 0x01;
    static final int CAN_USE_HEAP = 0x80;
    /** boot.rst's sample configuration: heap end at 0xe000 in the setup segment, minus 0x200. */
    static final int HEAP_END_PTR = 0xE000 - 0x200;

    static void write(GuestMemory memory, BzImage.Loaded kernel, long cmdlineAddr, Initrd initrd, List<E820Entry> e820)
            throws BootException {
        if (e820.size() > E820_MAX_ENTRIES) {
            throw new BootException("the memory map has %d entries, more than the zero page's %d".formatted(e820.size(), E820_MAX_ENTRIES));
        }
        long zp = Layout.ZERO_PAGE_ADDR;
        memory.zero(zp, SIZE);
        memory.write(zp + OFF_SETUP_HEADER, kernel.header(), 0, kernel.header().length);
        memory.writeByte(zp + OFF_TYPE_OF_LOADER, (byte) TYPE_OF_LOADER_UNDEFINED);
        int loadflags = Byte.toUnsignedInt(memory.readByte(zp + OFF_LOADFLAGS));
        memory.writeByte(zp + OFF_LOADFLAGS, (byte) (loadflags | LOADED_HIGH | CAN_USE_HEAP));
        // Relocatable kernels: "the boot loader must set the code32_start field to point to the loaded code".
        memory.writeInt(zp + OFF_CODE32_START, (int) kernel.loadAddress());
        memory.writeShort(zp + OFF_HEAP_END_PTR, (short) HEAP_END_PTR);
        memory.writeInt(zp + OFF_CMD_LINE_PTR, (int) cmdlineAddr);
        if (initrd != null) {
            memory.writeInt(zp + OFF_RAMDISK_IMAGE, (int) initrd.address());
            memory.writeInt(zp + OFF_RAMDISK_SIZE, (int) initrd.size());
        }
        memory.writeByte(zp + OFF_E820_ENTRIES, (byte) e820.size());
        for (int i = 0; i < e820.size(); i++) {
            E820Entry e = e820.get(i);
            long at = zp + OFF_E820_TABLE + (long) i * E820_ENTRY_SIZE;
            memory.writeLong(at, e.address());
            memory.writeLong(at + 8, e.size());
            memory.writeInt(at + 16, e.type().code);
        }
    }
}
