package dev.flotilla.vmm.testing;

import dev.flotilla.vmm.arch.x86_64.InitialCpuState;
import dev.flotilla.vmm.arch.x86_64.Segment;

/**
 * Tiny real-mode guests as machine code, assembled once with GNU as ({@code as --32}, {@code .code16})
 * and {@code objcopy -O binary}; the source is in the comment above each. They end through port
 * I/O (port 0x501) or the i8042 reset, never by HLT alone: with an in-kernel irqchip a HLT stays
 * in the kernel.
 */
public final class TinyGuests {
    private TinyGuests() {}

    /** Where the guests are loaded and start (real mode, CS base 0). */
    public static final long ENTRY = 0x1000;
    /** A port the guests write to report, and the one they write to say they are done. */
    public static final int REPORT_PORT = 0x500;
    public static final int DONE_PORT = 0x501;
    /** Unbacked guest address the MMIO guest accesses (ES = 0xD000). */
    public static final long MMIO_BASE = 0xD0000;

    /**
     * <pre>
     *   mov $0x3f8, %dx ; mov $0x48, %al ; out %al, %dx     # port write 'H'
     *   in %dx, %al ; mov %al, 0x2000                        # port read, stored at 0x2000
     *   mov 0x2004, %al ; out %al, %dx                       # echo the byte the host put at 0x2004
     *   mov $0xd000, %ax ; mov %ax, %es
     *   movw $0xbeef, %es:0x10                               # MMIO write, 2 bytes at 0xD0010
     *   mov %es:0x20, %eax ; mov %eax, 0x2008                # MMIO read, 4 bytes at 0xD0020, stored at 0x2008
     *   mov $0x501, %dx ; out %al, %dx ; hlt                 # done
     * </pre>
     */
    public static final byte[] IO_AND_MEMORY = bytes(
            0xba, 0xf8, 0x03, 0xb0, 0x48, 0xee, 0xec, 0xa2, 0x00, 0x20, 0xa0, 0x04, 0x20, 0xee, 0xb8, 0x00,
            0xd0, 0x8e, 0xc0, 0x26, 0xc7, 0x06, 0x10, 0x00, 0xef, 0xbe, 0x26, 0x66, 0xa1, 0x20, 0x00, 0x66,
            0xa3, 0x08, 0x20, 0xba, 0x01, 0x05, 0xee, 0xf4);

    /** <pre>  xor %eax, %eax ; 1: inc %eax ; mov %eax, 0x2000 ; jmp 1b</pre> Counts forever at 0x2000. */
    public static final byte[] SPIN_COUNTER = bytes(0x66, 0x31, 0xc0, 0x66, 0x40, 0x66, 0xa3, 0x00, 0x20, 0xeb, 0xf8);

    /** <pre>  mov $0x500, %dx ; mov $1, %al ; out %al, %dx ; cli ; hlt ; jmp .</pre> Reports, then halts for good. */
    public static final byte[] REPORT_THEN_HALT = bytes(0xba, 0x00, 0x05, 0xb0, 0x01, 0xee, 0xfa, 0xf4, 0xeb, 0xfe);

    /** <pre>  mov $0x500, %dx ; mov %bl, %al ; out %al, %dx ; mov $0x501, %dx ; out %al, %dx ; hlt</pre> Reports BL. */
    public static final byte[] REPORT_BL = bytes(0xba, 0x00, 0x05, 0x88, 0xd8, 0xee, 0xba, 0x01, 0x05, 0xee, 0xf4);

    /**
     * <pre>  mov $0x500, %dx ; xor %ecx, %ecx ; 1: out %al, %dx ; inc %ecx ; cmp $50000, %ecx ; jne 1b
     *   mov $0x501, %dx ; out %al, %dx ; hlt</pre> 50,000 port writes, then done.
     */
    public static final byte[] MANY_OUTS = bytes(0xba, 0x00, 0x05, 0x66, 0x31, 0xc9, 0xee, 0x66, 0x41, 0x66, 0x81,
            0xf9, 0x50, 0xc3, 0x00, 0x00, 0x75, 0xf4, 0xba, 0x01, 0x05, 0xee, 0xf4);

    /** <pre>  mov $0xfe, %al ; out %al, $0x64 ; hlt</pre> Asks the i8042 for a CPU reset. */
    public static final byte[] I8042_RESET = bytes(0xb0, 0xfe, 0xe6, 0x64, 0xf4);

    private static byte[] bytes(int... values) {
        byte[] b = new byte[values.length];
        for (int i = 0; i < values.length; i++) {
            b[i] = (byte) values[i];
        }
        return b;
    }

    /** The reset state of an x86 CPU, but starting at {@code rip} with CS base 0; {@code rbx} as given. */
    public static InitialCpuState realMode(long rip, long rbx) {
        Segment code = new Segment(0, 0xFFFF, 0, 0xB, true, 0, false, true, false, false, false);
        Segment data = new Segment(0, 0xFFFF, 0, 0x3, true, 0, false, true, false, false, false);
        Segment tr = new Segment(0, 0xFFFF, 0, 0xB, true, 0, false, false, false, false, false);
        Segment ldt = new Segment(0, 0xFFFF, 0, 0x2, true, 0, false, false, false, false, false);
        return new InitialCpuState(rip, 0, 0, rbx, 2, 0x6000_0010L, 0, 0, 0,
                code, data, data, data, data, data, tr, ldt, 0, 0xFFFF, 0, 0xFFFF);
    }
}
