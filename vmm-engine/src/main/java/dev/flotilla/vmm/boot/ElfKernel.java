package dev.flotilla.vmm.boot;

import dev.flotilla.vmm.arch.x86_64.Layout;
import dev.flotilla.vmm.memory.GuestMemory;

import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;

/**
 * Loads an uncompressed x86_64 {@code vmlinux} ELF for the PVH entry.
 *
 * <p>Format: ELF-64 (System V gABI; x86_64 psABI for EM_X86_64 = 62). PT_LOAD segments are
 * copied to their physical addresses ({@code p_paddr}; their {@code p_vaddr} is the kernel's
 * high virtual mapping) and zero-filled from {@code p_filesz} to {@code p_memsz}. The entry point
 * is not {@code e_entry} (a 64-bit virtual address) but the physical 32-bit entry the kernel
 * publishes in an ELF note named "Xen" of type XEN_ELFNOTE_PHYS32_ENTRY (18; xen/include/public/
 * elfnote.h), which Linux emits from arch/x86/platform/pvh/head.S only when built with CONFIG_PVH.
 */
final class ElfKernel {
    private ElfKernel() {}

    static final byte[] MAGIC = {0x7F, 'E', 'L', 'F'};
    static final int ELFCLASS64 = 2;
    static final int ELFDATA2LSB = 1;
    static final int ET_EXEC = 2;
    static final int EM_X86_64 = 62;
    static final int PT_LOAD = 1;
    static final int PT_NOTE = 4;
    static final int XEN_ELFNOTE_PHYS32_ENTRY = 18;
    static final int EHDR_SIZE = 64;
    static final int PHDR_SIZE = 56;
    private static final int MAX_PHDRS = 256;
    private static final int MAX_NOTE_SEGMENT = 1 << 20;

    /** A loaded kernel: its PVH entry point and the physical range its segments occupy. */
    record Loaded(long entry, long start, long end) {}

    private record Segment(long offset, long paddr, long fileSize, long memSize) {}

    static boolean isElf(byte[] prefix) {
        return prefix.length >= 4 && prefix[0] == MAGIC[0] && prefix[1] == MAGIC[1]
                && prefix[2] == MAGIC[2] && prefix[3] == MAGIC[3];
    }

    /**
     * Validates the whole image first (header, segments, PVH note), then copies the segments, so a
     * bad image leaves guest memory untouched. Segments must lie in {@code [HIMEM_START, lowRamEnd)}.
     */
    static Loaded load(ImageFile file, GuestMemory memory, long lowRamEnd) throws BootException {
        String name = "kernel " + file.path();
        ByteBuffer h = ImageFile.littleEndian(file.readPrefix(EHDR_SIZE));
        if (h.capacity() < EHDR_SIZE) {
            throw new BootException(name + " is too short (%d bytes) to be an ELF file".formatted(file.size()));
        }
        int elfClass = h.get(4);
        if (elfClass != ELFCLASS64) {
            throw new BootException(name + " is a %s ELF file; an x86_64 kernel is ELF-64 (class 2, found %d)"
                    .formatted(elfClass == 1 ? "32-bit" : "invalid-class", elfClass));
        }
        if (h.get(5) != ELFDATA2LSB) {
            throw new BootException(name + " is not a little-endian ELF file (EI_DATA %d); x86_64 needs little-endian"
                    .formatted(h.get(5)));
        }
        int machine = Short.toUnsignedInt(h.getShort(18));
        if (machine != EM_X86_64) {
            throw new BootException(name + " is an ELF file for machine %d, not x86_64 (EM_X86_64 = 62)".formatted(machine));
        }
        int type = Short.toUnsignedInt(h.getShort(16));
        if (type != ET_EXEC) {
            throw new BootException(name + " is an ELF file of type %d, not an executable (ET_EXEC = 2) like vmlinux".formatted(type));
        }
        long phoff = h.getLong(32);
        int phentsize = Short.toUnsignedInt(h.getShort(54));
        int phnum = Short.toUnsignedInt(h.getShort(56));
        if (phentsize != PHDR_SIZE || phnum == 0 || phnum > MAX_PHDRS) {
            throw new BootException(name + " has a corrupt program header table (entry size %d, %d entries)"
                    .formatted(phentsize, phnum));
        }
        file.requireWithin(phoff, (long) phnum * PHDR_SIZE, "program header table");
        ByteBuffer ph = ImageFile.littleEndian(file.read(phoff, phnum * PHDR_SIZE));

        List<Segment> loads = new ArrayList<>();
        Long entry = null;
        for (int i = 0; i < phnum; i++) {
            int base = i * PHDR_SIZE;
            int pType = ph.getInt(base);
            long offset = ph.getLong(base + 8);
            long paddr = ph.getLong(base + 24);
            long fileSize = ph.getLong(base + 32);
            long memSize = ph.getLong(base + 40);
            long align = ph.getLong(base + 48);
            if (pType == PT_LOAD) {
                if (fileSize < 0 || memSize < 0 || fileSize > memSize) {
                    throw new BootException(name + " has a corrupt PT_LOAD segment %d: file size 0x%x, memory size 0x%x"
                            .formatted(i, fileSize, memSize));
                }
                file.requireWithin(offset, fileSize, "PT_LOAD segment " + i);
                checkPlacement(name, i, paddr, memSize, memory, lowRamEnd);
                loads.add(new Segment(offset, paddr, fileSize, memSize));
            } else if (pType == PT_NOTE && entry == null) {
                if (fileSize < 0 || fileSize > MAX_NOTE_SEGMENT) {
                    throw new BootException(name + " has an implausible PT_NOTE segment of %d bytes".formatted(fileSize));
                }
                file.requireWithin(offset, fileSize, "PT_NOTE segment " + i);
                entry = findPvhEntry(name, file.read(offset, (int) fileSize), align == 8 ? 8 : 4);
            }
        }
        if (loads.isEmpty()) {
            throw new BootException(name + " has no PT_LOAD segments: nothing to load");
        }
        if (entry == null) {
            throw new BootException(name + " has no PVH entry point (ELF note \"Xen\" type XEN_ELFNOTE_PHYS32_ENTRY): "
                    + "the kernel was built without CONFIG_PVH. Rebuild it with CONFIG_PVH=y, or boot its bzImage instead");
        }
        long pvhEntry = entry;
        if (loads.stream().noneMatch(s -> pvhEntry >= s.paddr() && pvhEntry < s.paddr() + s.fileSize())) {
            throw new BootException(name + " has a PVH entry point 0x%x outside all of its loaded segments".formatted(pvhEntry));
        }

        long start = Long.MAX_VALUE;
        long end = 0;
        for (Segment s : loads) {
            file.copyTo(memory, s.paddr(), s.offset(), s.fileSize());
            memory.zero(s.paddr() + s.fileSize(), s.memSize() - s.fileSize());
            start = Math.min(start, s.paddr());
            end = Math.max(end, s.paddr() + s.memSize());
        }
        return new Loaded(pvhEntry, start, end);
    }

    private static void checkPlacement(String name, int index, long paddr, long memSize, GuestMemory memory, long lowRamEnd)
            throws BootException {
        long end = paddr + memSize;
        if (paddr < 0 || end < paddr) {
            throw new BootException(name + " has PT_LOAD segment %d at an impossible address 0x%x+0x%x"
                    .formatted(index, paddr, memSize));
        }
        if (paddr < Layout.HIMEM_START) {
            throw new BootException(name + " has PT_LOAD segment %d at 0x%x, below 0x%x: it would overlap the boot tables, "
                    .formatted(index, paddr, Layout.HIMEM_START) + "MP table and legacy hole the VMM keeps in low memory");
        }
        if (end > lowRamEnd || !memory.contains(paddr, Math.max(memSize, 1))) {
            throw new BootException(name + " has PT_LOAD segment %d at [0x%x-0x%x), outside the guest's low RAM [0x%x-0x%x): "
                    .formatted(index, paddr, end, Layout.HIMEM_START, lowRamEnd) + "give the VM more memory or use another kernel");
        }
    }

    /**
     * Walks the notes of a PT_NOTE segment (gABI "Note Section": namesz, descsz, type, name and
     * desc each padded to the alignment) for the Xen PHYS32_ENTRY note; its descriptor is the
     * entry address, 4 bytes in older kernels, 8 (_ASM_PTR) in 64-bit builds since 5.x.
     */
    static Long findPvhEntry(String name, byte[] notes, int align) throws BootException {
        ByteBuffer n = ImageFile.littleEndian(notes);
        int pos = 0;
        while (notes.length - pos >= 12) {
            long nameSize = Integer.toUnsignedLong(n.getInt(pos));
            long descSize = Integer.toUnsignedLong(n.getInt(pos + 4));
            int type = n.getInt(pos + 8);
            long nameStart = pos + 12L;
            long descStart = nameStart + alignUp(nameSize, align);
            long next = descStart + alignUp(descSize, align);
            if (descStart + descSize > notes.length) {
                throw new BootException(name + " has a corrupt ELF note at offset %d of its note segment".formatted(pos));
            }
            boolean xen = nameSize == 4 && new String(notes, (int) nameStart, 3, StandardCharsets.US_ASCII).equals("Xen")
                    && notes[(int) nameStart + 3] == 0;
            if (xen && type == XEN_ELFNOTE_PHYS32_ENTRY) {
                if (descSize == 4) {
                    return Integer.toUnsignedLong(n.getInt((int) descStart));
                }
                if (descSize == 8) {
                    long value = n.getLong((int) descStart);
                    if (value < 0 || value >= Layout.MMIO_HOLE_END) {
                        throw new BootException(name + " has a PVH entry point 0x%x that is not a 32-bit address".formatted(value));
                    }
                    return value;
                }
                throw new BootException(name + " has a PVH entry note with a %d-byte descriptor (expected 4 or 8)".formatted(descSize));
            }
            pos = (int) Math.min(next, notes.length);
        }
        return null;
    }

    private static long alignUp(long value, int align) {
        return (value + align - 1) & -align;
    }
}
