package dev.flotilla.vmm.boot;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;

/**
 * Builds a fake bzImage: one setup sector after the boot sector, a setup header with the fields
 * of Documentation/x86/boot.rst at their offsets, then a protected-mode "kernel" of recognisable
 * bytes. Fields are public knobs so tests can corrupt one at a time.
 */
final class BzImageBuilder {
    int setupSects = 1;
    int bootFlag = 0xAA55;
    int headerMagic = 0x5372_6448; // "HdrS"
    int version = 0x020F;
    int loadflags = 0x01;          // LOADED_HIGH
    long initrdAddrMax = 0x7FFF_FFFFL;
    int kernelAlignment = 0x20_0000;
    int relocatable = 1;
    int xloadflags = 0x03;         // XLF_KERNEL_64 | XLF_CAN_BE_LOADED_ABOVE_4G
    int cmdlineSize = 2047;
    long prefAddress = 0x100_0000;
    int initSize = 0x40_0000;
    int kernelSize = 0x2000;
    int vidMode = 0xFFFF;

    static byte kernelByte(int i) {
        return (byte) (i * 7 + 3);
    }

    byte[] build() {
        int setupBytes = ((setupSects == 0 ? 4 : setupSects) + 1) * 512; // boot.rst: 0 means 4
        ByteBuffer b = ByteBuffer.allocate(setupBytes + kernelSize).order(ByteOrder.LITTLE_ENDIAN);
        b.put(0x1F1, (byte) setupSects);
        b.putShort(0x1FA, (short) vidMode);
        b.putShort(0x1FE, (short) bootFlag);
        b.put(0x200, (byte) 0xEB).put(0x201, (byte) 0x6A);  // jmp; header ends at 0x202 + 0x6a = 0x26c
        b.putInt(0x202, headerMagic);
        b.putShort(0x206, (short) version);
        b.put(0x211, (byte) loadflags);
        b.putInt(0x214, 0x100000);                         // code32_start default
        b.putInt(0x22C, (int) initrdAddrMax);
        b.putInt(0x230, kernelAlignment);
        b.put(0x234, (byte) relocatable);
        b.put(0x235, (byte) 21);
        b.putShort(0x236, (short) xloadflags);
        b.putInt(0x238, cmdlineSize);
        b.putLong(0x258, prefAddress);
        b.putInt(0x260, initSize);
        b.put(0x26C, (byte) 0x5A); // beyond the declared header: must not reach the zero page
        for (int i = 0; i < kernelSize; i++) {
            b.put(setupBytes + i, kernelByte(i));
        }
        return b.array();
    }
}
