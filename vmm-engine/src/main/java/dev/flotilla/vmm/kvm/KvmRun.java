package dev.flotilla.vmm.kvm;

import dev.flotilla.vmm.sys.KvmAbi;

import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;

/**
 * Typed access to a vCPU's mapped {@code struct kvm_run}, allocation-free, so the vCPU loop can
 * serve port I/O and MMIO exits without creating objects. Only valid on the vCPU's own thread
 * (except {@link #requestImmediateExit}), and only until the vCPU is closed.
 */
public final class KvmRun {

    private static final ValueLayout.OfShort U16 = ValueLayout.JAVA_SHORT_UNALIGNED;
    private static final ValueLayout.OfInt U32 = ValueLayout.JAVA_INT_UNALIGNED;
    private static final ValueLayout.OfLong U64 = ValueLayout.JAVA_LONG_UNALIGNED;

    private final MemorySegment run;

    KvmRun(MemorySegment run) {
        this.run = run;
    }

    public int exitReason() {
        return run.get(ValueLayout.JAVA_INT, KvmAbi.Run.EXIT_REASON);
    }

    /** Sets kvm_run.immediate_exit: the next (or current) KVM_RUN returns EINTR at once. */
    public void requestImmediateExit(boolean exit) {
        run.set(ValueLayout.JAVA_BYTE, KvmAbi.Run.IMMEDIATE_EXIT, (byte) (exit ? 1 : 0));
    }

    public boolean ioIsWrite() {
        return run.get(ValueLayout.JAVA_BYTE, KvmAbi.Run.IO_DIRECTION) == KvmAbi.Run.IO_OUT;
    }

    public int ioSize() {
        return run.get(ValueLayout.JAVA_BYTE, KvmAbi.Run.IO_SIZE);
    }

    public int ioPort() {
        return Short.toUnsignedInt(run.get(U16, KvmAbi.Run.IO_PORT));
    }

    /** Number of repetitions (string I/O: rep outs/ins). */
    public int ioCount() {
        return run.get(U32, KvmAbi.Run.IO_COUNT);
    }

    /**
     * The i-th data item of a port I/O exit. KVM puts it inside the mapped area at data_offset;
     * the offset comes from the kernel, and a bad one makes the segment access throw, not crash.
     */
    public long ioData(int i) {
        long at = run.get(U64, KvmAbi.Run.IO_DATA_OFFSET) + (long) i * ioSize();
        return switch (ioSize()) {
            case 1 -> Byte.toUnsignedLong(run.get(ValueLayout.JAVA_BYTE, at));
            case 2 -> Short.toUnsignedLong(run.get(U16, at));
            default -> Integer.toUnsignedLong(run.get(U32, at));
        };
    }

    public void setIoData(int i, long value) {
        long at = run.get(U64, KvmAbi.Run.IO_DATA_OFFSET) + (long) i * ioSize();
        switch (ioSize()) {
            case 1 -> run.set(ValueLayout.JAVA_BYTE, at, (byte) value);
            case 2 -> run.set(U16, at, (short) value);
            default -> run.set(U32, at, (int) value);
        }
    }

    public long mmioAddress() {
        return run.get(U64, KvmAbi.Run.MMIO_PHYS_ADDR);
    }

    public int mmioLength() {
        return run.get(U32, KvmAbi.Run.MMIO_LEN);
    }

    public boolean mmioIsWrite() {
        return run.get(ValueLayout.JAVA_BYTE, KvmAbi.Run.MMIO_IS_WRITE) != 0;
    }

    /** The MMIO data bytes, little-endian, the low {@link #mmioLength()} bytes significant. */
    public long mmioData() {
        return run.get(U64, KvmAbi.Run.MMIO_DATA);
    }

    public void setMmioData(long value) {
        run.set(U64, KvmAbi.Run.MMIO_DATA, value);
    }

    /** Decodes an exit that is neither port I/O nor MMIO. */
    public VcpuExit decodeOtherExit() {
        int reason = exitReason();
        return switch (reason) {
            case KvmAbi.KVM_EXIT_HLT -> VcpuExit.HALT;
            case KvmAbi.KVM_EXIT_SHUTDOWN -> VcpuExit.SHUTDOWN;
            case KvmAbi.KVM_EXIT_INTR -> VcpuExit.INTERRUPTED;
            case KvmAbi.KVM_EXIT_SYSTEM_EVENT ->
                    new VcpuExit.SystemEvent(run.get(U32, KvmAbi.Run.SYSTEM_EVENT_TYPE));
            case KvmAbi.KVM_EXIT_FAIL_ENTRY -> new VcpuExit.FailEntry(run.get(U64, KvmAbi.Run.FAIL_ENTRY_REASON),
                    run.get(U32, KvmAbi.Run.FAIL_ENTRY_CPU));
            case KvmAbi.KVM_EXIT_INTERNAL_ERROR -> new VcpuExit.InternalError(
                    run.get(U32, KvmAbi.Run.INTERNAL_SUBERROR),
                    run.get(U32, KvmAbi.Run.INTERNAL_NDATA) > 0 ? run.get(U64, KvmAbi.Run.INTERNAL_DATA) : 0);
            case KvmAbi.KVM_EXIT_EXCEPTION -> new VcpuExit.GuestException(run.get(U32, KvmAbi.Run.EX_EXCEPTION),
                    run.get(U32, KvmAbi.Run.EX_ERROR_CODE));
            default -> new VcpuExit.Unhandled(reason);
        };
    }
}
