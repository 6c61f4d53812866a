package dev.flotilla.vmm.boot;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;

/**
 * Builds small ELF-64 kernel images byte by byte (ELF gABI layouts), with PT_LOAD segments and
 * an optional PT_NOTE holding the Xen PVH entry note, plus knobs to corrupt them.
 */
final class ElfImageBuilder {

    record Load(long paddr, byte[] data, long memSize) {}

    private record Note(String name, int type, byte[] desc) {}

    int elfClass = 2;
    int dataEncoding = 1;
    int machine = 62;
    int type = 2;
    int phentsize = 56;
    private final List<Load> loads = new ArrayList<>();
    private final List<Note> notes = new ArrayList<>();
    /** Set to make the first PT_LOAD claim more file bytes than the image has. */
    long extraFileSizeOfFirstLoad;

    ElfImageBuilder load(long paddr, byte[] data, long memSize) {
        loads.add(new Load(paddr, data, memSize));
        return this;
    }

    ElfImageBuilder note(String name, int type, byte[] desc) {
        notes.add(new Note(name, type, desc));
        return this;
    }

    ElfImageBuilder pvhEntry(long entry) {
        return note("Xen", 18, ByteBuffer.allocate(8).order(ByteOrder.LITTLE_ENDIAN).putLong(entry).array());
    }

    ElfImageBuilder pvhEntry32(int entry) {
        return note("Xen", 18, ByteBuffer.allocate(4).order(ByteOrder.LITTLE_ENDIAN).putInt(entry).array());
    }

    byte[] build() {
        byte[] noteBytes = encodeNotes();
        int phnum = loads.size() + (notes.isEmpty() ? 0 : 1);
        long offset = 64 + (long) phnum * 56;
        long noteOffset = offset;
        offset += noteBytes.length;
        List<Long> loadOffsets = new ArrayList<>();
        for (Load l : loads) {
            offset = (offset + 15) & -16;
            loadOffsets.add(offset);
            offset += l.data().length;
        }
        ByteBuffer b = ByteBuffer.allocate((int) offset).order(ByteOrder.LITTLE_ENDIAN);
        b.put(new byte[] {0x7F, 'E', 'L', 'F'}).put((byte) elfClass).put((byte) dataEncoding).put((byte) 1);
        b.position(16);
        b.putShort((short) type).putShort((short) machine).putInt(1);
        b.putLong(0xFFFF_FFFF_8100_0000L);       // e_entry: the virtual one, which PVH ignores
        b.putLong(64).putLong(0);                 // e_phoff, e_shoff
        b.putInt(0).putShort((short) 64).putShort((short) phentsize).putShort((short) phnum);
        b.putShort((short) 64).putShort((short) 0).putShort((short) 0);
        b.position(64);
        for (int i = 0; i < loads.size(); i++) {
            Load l = loads.get(i);
            long fileSize = l.data().length + (i == 0 ? extraFileSizeOfFirstLoad : 0);
            b.putInt(1).putInt(5).putLong(loadOffsets.get(i))
                    .putLong(0xFFFF_FFFF_8000_0000L + l.paddr()).putLong(l.paddr())
                    .putLong(fileSize).putLong(l.memSize()).putLong(0x200000);
        }
        if (!notes.isEmpty()) {
            b.putInt(4).putInt(4).putLong(noteOffset).putLong(0).putLong(0)
                    .putLong(noteBytes.length).putLong(noteBytes.length).putLong(4);
        }
        b.position((int) noteOffset);
        b.put(noteBytes);
        for (int i = 0; i < loads.size(); i++) {
            b.position(loadOffsets.get(i).intValue());
            b.put(loads.get(i).data());
        }
        return b.array();
    }

    private byte[] encodeNotes() {
        ByteBuffer b = ByteBuffer.allocate(4096).order(ByteOrder.LITTLE_ENDIAN);
        for (Note n : notes) {
            byte[] name = (n.name() + "\0").getBytes(StandardCharsets.US_ASCII);
            b.putInt(name.length).putInt(n.desc().length).putInt(n.type());
            b.put(name);
            b.position((b.position() + 3) & -4);
            b.put(n.desc());
            b.position((b.position() + 3) & -4);
        }
        byte[] out = new byte[b.position()];
        b.flip().get(out);
        return out;
    }
}
