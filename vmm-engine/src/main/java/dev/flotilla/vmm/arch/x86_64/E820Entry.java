package dev.flotilla.vmm.arch.x86_64;

/**
 * One entry of the BIOS e820 memory map, as {@code struct boot_e820_entry} in
 * arch/x86/include/uapi/asm/bootparam.h (addr u64, size u64, type u32: 20 bytes, packed) and,
 * with 4 bytes of padding, {@code struct hvm_memmap_table_entry} of PVH. Type numbers are the
 * ACPI address range types, shared by both (arch/x86/include/asm/e820/types.h,
 * XEN_HVM_MEMMAP_TYPE_* in start_info.h).
 */
public record E820Entry(long address, long size, Type type) {

    public enum Type {
        RAM(1), RESERVED(2);

        public final int code;

        Type(int code) {
            this.code = code;
        }
    }

    public E820Entry {
        if (address < 0 || size <= 0 || address + size < address) {
            throw new IllegalArgumentException("bad e820 range 0x%x+0x%x".formatted(address, size));
        }
    }

    public long end() {
        return address + size;
    }

    @Override
    public String toString() {
        return "[0x%x-0x%x) %s".formatted(address, end(), type);
    }
}
