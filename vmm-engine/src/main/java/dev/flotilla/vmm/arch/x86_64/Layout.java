package dev.flotilla.vmm.arch.x86_64;

/**
 * The guest physical address map of a Flotilla x86_64 microVM. One place, so the loaders, the
 * device model and the tables the guest reads (e820, MP table, kernel command line) agree.
 *
 * <pre>
 * 0x0000_0500  GDT (6 slots: null, code32, code64, data, 16-byte TSS)   0x0000_0530  IDT (empty)
 * 0x0000_6000  PVH hvm_start_info, 0x6040 module list (initrd), 0x6080 memory map
 * 0x0000_7000  zero page (boot_params)  0x0000_8FF0  boot stack (grows down)
 * 0x0000_9000  PML4, 0xA000 PDPT, 0xB000..0xEFFF four PDs (identity map of 4 GiB in 2 MiB pages)
 * 0x0002_0000  kernel command line (up to CMDLINE_MAX bytes)
 * 0x0009_FC00  MP floating pointer + MP config table (in the last KiB of base memory, as the MP spec allows;
 *              reserved in e820. With more than 37 vCPUs the config table runs on into the legacy hole,
 *              which is not RAM either, so the guest never allocates over it)
 * 0x000A_0000 .. 0x0010_0000  legacy VGA/BIOS hole, not RAM in e820
 * 0x0010_0000  kernel load address (HIMEM_START)
 * ...          initrd: placed at the top of low RAM, page aligned
 * 0xC000_0000  boot timer (MMIO, one page) — the first MMIO slot, as in Firecracker
 * 0xC000_1000  virtio-mmio devices, one page each, IRQs from VIRTIO_IRQ_BASE
 * 0xFEC0_0000  IOAPIC   0xFEE0_0000  local APIC
 * 0x1_0000_0000 RAM above the 32-bit MMIO hole, when the guest has more than MMIO_HOLE_START bytes
 * </pre>
 */
public final class Layout {
    private Layout() {}

    public static final long GDT_ADDR = 0x500;
    /** Bytes reserved for the GDT: five descriptors, the last (the TSS) 16 bytes long in long mode. */
    public static final int GDT_SIZE = 0x30;
    /** Right after the GDT (it was 0x520 before the GDT grew a 32-bit code descriptor for PVH). */
    public static final long IDT_ADDR = GDT_ADDR + GDT_SIZE;
    public static final long PVH_INFO_ADDR = 0x6000;
    /** The PVH module list: one hvm_modlist_entry (32 bytes) for the initrd. */
    public static final long PVH_MODLIST_ADDR = 0x6040;
    /** The PVH memory map (hvm_memmap_table_entry, 24 bytes each) up to the zero page. */
    public static final long PVH_MEMMAP_ADDR = 0x6080;
    public static final long ZERO_PAGE_ADDR = 0x7000;
    public static final long PML4_ADDR = 0x9000;
    public static final long PDPT_ADDR = 0xA000;
    /** First of {@link #PD_COUNT} consecutive page directories, one per GiB. */
    public static final long PD_ADDR = 0xB000;
    public static final int PD_COUNT = 4;
    /** The boot page tables identity-map {@code [0, IDENTITY_MAP_SIZE)}. */
    public static final long IDENTITY_MAP_SIZE = PD_COUNT * (1L << 30);
    /** Initial stack pointer for the boot CPU (grows down, below the page tables). */
    public static final long BOOT_STACK_ADDR = 0x8FF0;
    public static final long CMDLINE_ADDR = 0x20000;
    public static final int CMDLINE_MAX = 4096;
    public static final long MPTABLE_ADDR = 0x9FC00;
    /** End of base memory: 640 KiB. */
    public static final long EBDA_END = 0xA0000;
    public static final long HIMEM_START = 0x100000;

    public static final long MMIO_HOLE_START = 0xC000_0000L;
    public static final long MMIO_HOLE_END = 0x1_0000_0000L;
    public static final long BOOT_TIMER_ADDR = 0xC000_0000L;
    public static final long BOOT_TIMER_SIZE = 0x1000;
    /** The value the guest's init writes to the boot timer when userspace is up (Firecracker's). */
    public static final int BOOT_TIMER_MAGIC = 123;
    public static final long VIRTIO_MMIO_BASE = 0xC000_1000L;
    public static final long VIRTIO_MMIO_SIZE = 0x1000;
    public static final int VIRTIO_IRQ_BASE = 5;
    public static final long IOAPIC_ADDR = 0xFEC0_0000L;
    public static final long LAPIC_ADDR = 0xFEE0_0000L;

    public static final int COM1_PORT = 0x3F8;
    public static final int COM1_IRQ = 4;
    public static final int I8042_DATA_PORT = 0x60;
    public static final int I8042_COMMAND_PORT = 0x64;

    /** KVM's TSS and identity map pages on Intel: three pages just below the IOAPIC. */
    public static final long KVM_TSS_ADDR = 0xFFFB_D000L;
    public static final long KVM_IDENTITY_MAP_ADDR = 0xFFFB_C000L;
}
