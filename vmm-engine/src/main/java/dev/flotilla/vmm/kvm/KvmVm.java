package dev.flotilla.vmm.kvm;

import dev.flotilla.vmm.interrupt.IrqLine;
import dev.flotilla.vmm.sys.KvmAbi;
import dev.flotilla.vmm.sys.Libc;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.util.ArrayList;
import java.util.List;

/**
 * A VM fd: memory slots, the in-kernel irqchip and PIT, interrupt lines and eventfds, vCPUs.
 * Closing it closes every vCPU it created first. Struct buffers that are reused (the IRQ line)
 * live in a per-VM automatic arena.
 */
public final class KvmVm implements AutoCloseable {

    private final int fd;
    private final int vcpuMmapSize;
    /**
     * Freed by the GC once the VM is unreachable (it only holds a 16-byte struct): a shared arena's
     * close waits for a handshake with every JVM thread, milliseconds with a thousand vCPU threads.
     */
    private final Arena arena = Arena.ofAuto();
    private final MemorySegment irqLevel = arena.allocate(KvmAbi.IrqLevel.LAYOUT);
    private final List<KvmVcpu> vcpus = new ArrayList<>();
    private boolean closed;

    KvmVm(int fd, int vcpuMmapSize) {
        this.fd = fd;
        this.vcpuMmapSize = vcpuMmapSize;
    }

    /**
     * KVM_SET_USER_MEMORY_REGION: maps {@code host} (an mmap'd range) at guest physical
     * {@code guestAddress} in slot {@code slot}.
     */
    public void setUserMemoryRegion(int slot, long guestAddress, MemorySegment host) {
        try (Arena call = Arena.ofConfined()) {
            MemorySegment r = call.allocate(KvmAbi.UserspaceMemoryRegion.LAYOUT);
            r.set(ValueLayout.JAVA_INT, KvmAbi.UserspaceMemoryRegion.SLOT, slot);
            r.set(ValueLayout.JAVA_INT, KvmAbi.UserspaceMemoryRegion.FLAGS, 0);
            r.set(ValueLayout.JAVA_LONG, KvmAbi.UserspaceMemoryRegion.GUEST_PHYS_ADDR, guestAddress);
            r.set(ValueLayout.JAVA_LONG, KvmAbi.UserspaceMemoryRegion.MEMORY_SIZE, host.byteSize());
            r.set(ValueLayout.JAVA_LONG, KvmAbi.UserspaceMemoryRegion.USERSPACE_ADDR, host.address());
            Libc.ioctl(fd, KvmAbi.KVM_SET_USER_MEMORY_REGION, r,
                    "KVM_SET_USER_MEMORY_REGION slot %d at 0x%x".formatted(slot, guestAddress));
        }
    }

    /** KVM_SET_TSS_ADDR: three pages KVM uses on Intel for real-mode emulation; must not overlap RAM or MMIO. */
    public void setTssAddress(long address) {
        Libc.ioctl(fd, KvmAbi.KVM_SET_TSS_ADDR, address, "KVM_SET_TSS_ADDR");
    }

    /** KVM_SET_IDENTITY_MAP_ADDR: one page for the EPT identity map on Intel; call before creating vCPUs. */
    public void setIdentityMapAddress(long address) {
        try (Arena call = Arena.ofConfined()) {
            MemorySegment a = call.allocate(ValueLayout.JAVA_LONG);
            a.set(ValueLayout.JAVA_LONG, 0, address);
            Libc.ioctl(fd, KvmAbi.KVM_SET_IDENTITY_MAP_ADDR, a, "KVM_SET_IDENTITY_MAP_ADDR");
        }
    }

    /** KVM_CREATE_IRQCHIP: in-kernel PIC pair, IOAPIC and per-vCPU local APICs; before creating vCPUs. */
    public void createIrqchip() {
        Libc.ioctl(fd, KvmAbi.KVM_CREATE_IRQCHIP, "KVM_CREATE_IRQCHIP");
    }

    /** KVM_CREATE_PIT2: the in-kernel i8254 timer, with the speaker port (0x61) handled in the kernel. */
    public void createPit2() {
        try (Arena call = Arena.ofConfined()) {
            MemorySegment c = call.allocate(KvmAbi.PitConfig.LAYOUT);
            c.set(ValueLayout.JAVA_INT, KvmAbi.PitConfig.FLAGS, KvmAbi.PitConfig.SPEAKER_DUMMY);
            Libc.ioctl(fd, KvmAbi.KVM_CREATE_PIT2, c, "KVM_CREATE_PIT2");
        }
    }

    /** KVM_IRQ_LINE: sets the level of a GSI of the in-kernel irqchip. Allocation-free. */
    public void setIrqLine(int irq, boolean high) {
        synchronized (irqLevel) {
            irqLevel.set(ValueLayout.JAVA_INT, KvmAbi.IrqLevel.IRQ, irq);
            irqLevel.set(ValueLayout.JAVA_INT, KvmAbi.IrqLevel.LEVEL, high ? 1 : 0);
            Libc.ioctl(fd, KvmAbi.KVM_IRQ_LINE, irqLevel, "KVM_IRQ_LINE");
        }
    }

    /** An {@link IrqLine} for {@code irq}, driven through {@link #setIrqLine}. */
    public IrqLine irqLine(int irq) {
        return high -> setIrqLine(irq, high);
    }

    /** KVM_IRQFD: a write to {@code eventFd} injects {@code gsi} (edge). */
    public void registerIrqfd(int eventFd, int gsi) {
        irqfd(eventFd, gsi, 0);
    }

    /** KVM_IRQFD with KVM_IRQFD_FLAG_DEASSIGN. */
    public void unregisterIrqfd(int eventFd, int gsi) {
        irqfd(eventFd, gsi, KvmAbi.Irqfd.FLAG_DEASSIGN);
    }

    private void irqfd(int eventFd, int gsi, int flags) {
        try (Arena call = Arena.ofConfined()) {
            MemorySegment s = call.allocate(KvmAbi.Irqfd.LAYOUT);
            s.set(ValueLayout.JAVA_INT, KvmAbi.Irqfd.FD, eventFd);
            s.set(ValueLayout.JAVA_INT, KvmAbi.Irqfd.GSI, gsi);
            s.set(ValueLayout.JAVA_INT, KvmAbi.Irqfd.FLAGS, flags);
            Libc.ioctl(fd, KvmAbi.KVM_IRQFD, s, "KVM_IRQFD gsi " + gsi);
        }
    }

    /**
     * KVM_IOEVENTFD: a guest write of {@code length} bytes at {@code address} (MMIO, or a port when
     * {@code pio}) signals {@code eventFd} in the kernel instead of exiting; with a datamatch only
     * writes of that value do.
     */
    public void registerIoeventfd(long address, int length, int eventFd, boolean pio, Long datamatch) {
        ioeventfd(address, length, eventFd, pio, datamatch, 0);
    }

    /** KVM_IOEVENTFD with KVM_IOEVENTFD_FLAG_DEASSIGN (same arguments as registration). */
    public void unregisterIoeventfd(long address, int length, int eventFd, boolean pio, Long datamatch) {
        ioeventfd(address, length, eventFd, pio, datamatch, KvmAbi.Ioeventfd.FLAG_DEASSIGN);
    }

    private void ioeventfd(long address, int length, int eventFd, boolean pio, Long datamatch, int extraFlags) {
        try (Arena call = Arena.ofConfined()) {
            MemorySegment s = call.allocate(KvmAbi.Ioeventfd.LAYOUT);
            int flags = extraFlags | (pio ? KvmAbi.Ioeventfd.FLAG_PIO : 0);
            if (datamatch != null) {
                flags |= KvmAbi.Ioeventfd.FLAG_DATAMATCH;
                s.set(ValueLayout.JAVA_LONG, KvmAbi.Ioeventfd.DATAMATCH, datamatch);
            }
            s.set(ValueLayout.JAVA_LONG, KvmAbi.Ioeventfd.ADDR, address);
            s.set(ValueLayout.JAVA_INT, KvmAbi.Ioeventfd.LEN, length);
            s.set(ValueLayout.JAVA_INT, KvmAbi.Ioeventfd.FD, eventFd);
            s.set(ValueLayout.JAVA_INT, KvmAbi.Ioeventfd.FLAGS, flags);
            Libc.ioctl(fd, KvmAbi.KVM_IOEVENTFD, s, "KVM_IOEVENTFD at 0x%x".formatted(address));
        }
    }

    /** KVM_CREATE_VCPU: vCPU {@code id} (also its APIC id), with its kvm_run area mapped. */
    public synchronized KvmVcpu createVcpu(int id) {
        int vcpuFd = Libc.ioctl(fd, KvmAbi.KVM_CREATE_VCPU, id, "KVM_CREATE_VCPU " + id);
        KvmVcpu vcpu;
        try {
            vcpu = new KvmVcpu(id, vcpuFd, vcpuMmapSize);
        } catch (RuntimeException e) {
            Libc.close(vcpuFd);
            throw e;
        }
        vcpus.add(vcpu);
        return vcpu;
    }

    /** Closes every vCPU, then the VM fd and the per-VM arena. Idempotent. */
    @Override
    public synchronized void close() {
        if (closed) {
            return;
        }
        closed = true;
        RuntimeException failure = null;
        for (KvmVcpu v : vcpus) {
            try {
                v.close();
            } catch (RuntimeException e) {
                failure = e;
            }
        }
        vcpus.clear();
        Libc.close(fd);
        if (failure != null) {
            throw failure;
        }
    }
}
