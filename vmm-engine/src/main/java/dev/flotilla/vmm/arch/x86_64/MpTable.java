package dev.flotilla.vmm.arch.x86_64;

import dev.flotilla.vmm.memory.GuestMemory;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;

/**
 * The Intel MultiProcessor Specification 1.4 tables, so an SMP guest without ACPI finds its
 * CPUs and IOAPIC. Linux scans the last KiB of base memory for the floating pointer
 * (arch/x86/kernel/mpparse.c, {@code smp_scan_config(639 * 0x400, 0x400)}), so it goes at
 * {@link Layout#MPTABLE_ADDR} with the configuration table right after it. Struct layouts: MP
 * spec 1.4 chapter 4 (mirrored in arch/x86/include/asm/mpspec_def.h).
 *
 * <p>Configuration: one processor entry per vCPU (local APIC ids 0..n-1, cpu 0 the bootstrap
 * processor), one ISA bus, one IOAPIC (id n, after the CPUs' ids) at {@link Layout#IOAPIC_ADDR},
 * ISA IRQs 0-23 routed 1:1 to IOAPIC pins, and the virtual-wire local interrupts: ExtINT on LINT0,
 * NMI on LINT1 of every local APIC (MP spec 5.1 default configurations).
 */
public final class MpTable {
    private MpTable() {}

    public static final int MAX_VCPUS = 254; // APIC id 255 is the broadcast id; the IOAPIC takes id n
    public static final int SPEC_REVISION = 4; // MP spec 1.4
    public static final int IOAPIC_VERSION = 0x11;
    /** Version of an integrated local APIC (Intel SDM 10.4.8: 0x1X). */
    public static final int LAPIC_VERSION = 0x14;
    public static final int IRQ_COUNT = 24;
    public static final int ISA_BUS_ID = 0;

    public static final int FLOATING_POINTER_SIZE = 16;
    public static final int HEADER_SIZE = 44;
    public static final int PROCESSOR_ENTRY_SIZE = 20;
    public static final int SMALL_ENTRY_SIZE = 8;

    public static final int ENTRY_PROCESSOR = 0;
    public static final int ENTRY_BUS = 1;
    public static final int ENTRY_IOAPIC = 2;
    public static final int ENTRY_IO_INTERRUPT = 3;
    public static final int ENTRY_LOCAL_INTERRUPT = 4;

    public static final int CPU_ENABLED = 1;
    public static final int CPU_BOOTSTRAP = 2;
    public static final int INT_TYPE_INT = 0;
    public static final int INT_TYPE_NMI = 1;
    public static final int INT_TYPE_EXTINT = 3;
    private static final int ALL_LOCAL_APICS = 0xFF;
    /** CPU signature: family 6 (the value matters only to very old kernels' quirks). */
    private static final int CPU_SIGNATURE = 0x600;
    /** CPUID.1:EDX feature flags: FPU (bit 0) and APIC (bit 9). */
    private static final int CPU_FEATURES = (1 << 9) | 1;

    /** Address of the configuration table. */
    public static final long CONFIG_TABLE_ADDR = Layout.MPTABLE_ADDR + FLOATING_POINTER_SIZE;

    /** Size of the configuration table (header and entries) for {@code vcpus} CPUs. */
    public static int configTableSize(int vcpus) {
        return HEADER_SIZE + vcpus * PROCESSOR_ENTRY_SIZE
                + SMALL_ENTRY_SIZE * (1 /* bus */ + 1 /* IOAPIC */ + IRQ_COUNT + 2 /* LINT0, LINT1 */);
    }

    /** Writes the floating pointer and configuration table; returns the first address after them. */
    public static long write(GuestMemory memory, int vcpus) {
        if (vcpus < 1 || vcpus > MAX_VCPUS) {
            throw new IllegalArgumentException("an MP table describes 1 to %d CPUs, not %d".formatted(MAX_VCPUS, vcpus));
        }
        int ioapicId = vcpus;
        int size = configTableSize(vcpus);
        ByteBuffer t = ByteBuffer.allocate(size).order(ByteOrder.LITTLE_ENDIAN);
        t.put(ascii("PCMP", 4));
        t.putShort((short) size);
        t.put((byte) SPEC_REVISION);
        t.put((byte) 0);                     // checksum, below
        t.put(ascii("FLOTILLA", 8));         // OEM id
        t.put(ascii("MICROVM", 12));         // product id
        t.putInt(0);                         // no OEM table
        t.putShort((short) 0);
        t.putShort((short) (vcpus + 1 + 1 + IRQ_COUNT + 2)); // entry count
        t.putInt((int) Layout.LAPIC_ADDR);
        t.putShort((short) 0);               // extended table length: none
        t.put((byte) 0);                     // extended table checksum (of zero bytes)
        t.put((byte) 0);
        for (int cpu = 0; cpu < vcpus; cpu++) {
            t.put((byte) ENTRY_PROCESSOR).put((byte) cpu).put((byte) LAPIC_VERSION)
                    .put((byte) (CPU_ENABLED | (cpu == 0 ? CPU_BOOTSTRAP : 0)))
                    .putInt(CPU_SIGNATURE).putInt(CPU_FEATURES).putLong(0);
        }
        t.put((byte) ENTRY_BUS).put((byte) ISA_BUS_ID).put(ascii("ISA", 6));
        t.put((byte) ENTRY_IOAPIC).put((byte) ioapicId).put((byte) IOAPIC_VERSION).put((byte) 1 /* usable */)
                .putInt((int) Layout.IOAPIC_ADDR);
        for (int irq = 0; irq < IRQ_COUNT; irq++) {
            // flags 0: polarity and trigger "conform to the bus" (ISA: active high, edge).
            t.put((byte) ENTRY_IO_INTERRUPT).put((byte) INT_TYPE_INT).putShort((short) 0)
                    .put((byte) ISA_BUS_ID).put((byte) irq).put((byte) ioapicId).put((byte) irq);
        }
        t.put((byte) ENTRY_LOCAL_INTERRUPT).put((byte) INT_TYPE_EXTINT).putShort((short) 0)
                .put((byte) ISA_BUS_ID).put((byte) 0).put((byte) ALL_LOCAL_APICS).put((byte) 0);
        t.put((byte) ENTRY_LOCAL_INTERRUPT).put((byte) INT_TYPE_NMI).putShort((short) 0)
                .put((byte) ISA_BUS_ID).put((byte) 0).put((byte) ALL_LOCAL_APICS).put((byte) 1);
        byte[] table = t.array();
        table[7] = checksum(table);

        ByteBuffer f = ByteBuffer.allocate(FLOATING_POINTER_SIZE).order(ByteOrder.LITTLE_ENDIAN);
        f.put(ascii("_MP_", 4));
        f.putInt((int) CONFIG_TABLE_ADDR);
        f.put((byte) 1);                     // length in 16-byte paragraphs
        f.put((byte) SPEC_REVISION);
        f.put((byte) 0);                     // checksum, below
        f.put((byte) 0);                     // feature 1: 0 = a configuration table is present
        f.put((byte) 0);                     // feature 2: bit 7 clear = virtual wire mode, no IMCR
        byte[] pointer = f.array();
        pointer[10] = checksum(pointer);

        memory.write(Layout.MPTABLE_ADDR, pointer, 0, pointer.length);
        memory.write(CONFIG_TABLE_ADDR, table, 0, table.length);
        return CONFIG_TABLE_ADDR + size;
    }

    /** The byte that makes all bytes of {@code data} sum to zero (mod 256). */
    static byte checksum(byte[] data) {
        int sum = 0;
        for (byte b : data) {
            sum += b;
        }
        return (byte) -sum;
    }

    /** {@code text} as ASCII, space padded to {@code length} (MP spec string fields). */
    private static byte[] ascii(String text, int length) {
        byte[] out = new byte[length];
        java.util.Arrays.fill(out, (byte) ' ');
        byte[] b = text.getBytes(StandardCharsets.US_ASCII);
        System.arraycopy(b, 0, out, 0, b.length);
        return out;
    }
}
