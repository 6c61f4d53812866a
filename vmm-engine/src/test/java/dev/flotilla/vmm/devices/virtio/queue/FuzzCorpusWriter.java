package dev.flotilla.vmm.devices.virtio.queue;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.file.Path;

/**
 * Writes the hand-made hostile inputs of the regression corpus (each one a shape that once
 * needed a specific defence). Run from the module directory to regenerate them:
 * {@code java -cp target/classes:target/test-classes dev.flotilla.vmm.devices.virtio.queue.FuzzCorpusWriter}
 */
public final class FuzzCorpusWriter {
    private FuzzCorpusWriter() {}

    public static void main(String[] args) throws IOException {
        Path dir = Path.of(args.length > 0 ? args[0] : "src/test/resources/regressions");
        splitRingWhollyChainedInACycle().write(dir.resolve("split-cycle-through-every-descriptor.fuzz"));
        splitIndirectTablePointingAtItself().write(dir.resolve("split-indirect-table-contains-itself.fuzz"));
        splitAvailIndexAtMaximum().write(dir.resolve("split-avail-index-ffff.fuzz"));
        packedRingWhollyChained().write(dir.resolve("packed-every-descriptor-has-next.fuzz"));
        packedIndirectLengthOverflow().write(dir.resolve("packed-indirect-length-0xfffffff0.fuzz"));
    }

    private static ByteBuffer memory(byte[] m) {
        return ByteBuffer.wrap(m).order(ByteOrder.LITTLE_ENDIAN);
    }

    private static FuzzCase split(byte[] m, int size, boolean indirect, QueueRejection expected) {
        return new FuzzCase(false, indirect, true, size, FuzzCase.DESC, FuzzCase.DRIVER, FuzzCase.DEVICE, m, new byte[0], expected);
    }

    private static FuzzCase packed(byte[] m, int size, boolean indirect, QueueRejection expected) {
        return new FuzzCase(true, indirect, true, size, FuzzCase.DESC, FuzzCase.DRIVER, FuzzCase.DEVICE, m, new byte[0], expected);
    }

    /** 64 descriptors each chaining to the next, the last back to the first; every one published. */
    static FuzzCase splitRingWhollyChainedInACycle() {
        int size = 64;
        byte[] m = new byte[FuzzCase.MEMORY_SIZE];
        ByteBuffer b = memory(m);
        for (int i = 0; i < size; i++) {
            b.putLong(16 * i, 0x3000).putInt(16 * i + 8, 16).putShort(16 * i + 12, (short) 1).putShort(16 * i + 14, (short) ((i + 1) % size));
            b.putShort((int) FuzzCase.DRIVER + 4 + 2 * i, (short) i);
        }
        b.putShort((int) FuzzCase.DRIVER + 2, (short) size);
        return split(m, size, false, QueueRejection.LOOP);
    }

    /** An indirect table whose single entry is an indirect descriptor pointing at the same table. */
    static FuzzCase splitIndirectTablePointingAtItself() {
        byte[] m = new byte[FuzzCase.MEMORY_SIZE];
        ByteBuffer b = memory(m);
        b.putLong(0, FuzzCase.TABLE_AREA).putInt(8, 16).putShort(12, (short) 4);
        b.putLong(FuzzCase.TABLE_AREA, FuzzCase.TABLE_AREA).putInt(FuzzCase.TABLE_AREA + 8, 16).putShort(FuzzCase.TABLE_AREA + 12, (short) 4);
        b.putShort((int) FuzzCase.DRIVER + 2, (short) 1);
        return split(m, 8, true, QueueRejection.NESTED_INDIRECT);
    }

    /** avail->idx = 0xffff: "65535 new buffers" in an 8-entry ring. */
    static FuzzCase splitAvailIndexAtMaximum() {
        byte[] m = new byte[FuzzCase.MEMORY_SIZE];
        memory(m).putShort((int) FuzzCase.DRIVER + 2, (short) 0xffff);
        return split(m, 8, false, QueueRejection.AVAIL_INDEX_JUMP);
    }

    /** Every packed descriptor available with NEXT set: the chain would wrap around the ring forever. */
    static FuzzCase packedRingWhollyChained() {
        int size = 16;
        byte[] m = new byte[FuzzCase.MEMORY_SIZE];
        ByteBuffer b = memory(m);
        for (int i = 0; i < size; i++) {
            b.putLong(16 * i, 0x3000).putInt(16 * i + 8, 16).putShort(16 * i + 12, (short) 0).putShort(16 * i + 14, (short) (0x80 | 1));
        }
        return packed(m, size, false, QueueRejection.PACKED_CHAIN_INCOMPLETE);
    }

    /** An indirect descriptor whose length, read as signed, is negative. */
    static FuzzCase packedIndirectLengthOverflow() {
        byte[] m = new byte[FuzzCase.MEMORY_SIZE];
        memory(m).putLong(0, FuzzCase.TABLE_AREA).putInt(8, 0xfffffff0).putShort(12, (short) 0).putShort(14, (short) (0x80 | 4));
        return packed(m, 8, true, QueueRejection.BAD_INDIRECT_TABLE);
    }
}
