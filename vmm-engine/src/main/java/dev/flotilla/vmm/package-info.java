/**
 * Flotilla's virtual machine monitor: a microVM on Linux KVM, written in Java over FFM.
 *
 * <h2>Layers (dependencies point down)</h2>
 * <pre>
 *   cli            Main: `host`, `vm run`, `bench vm-density`, `bench boot`
 *   bench          the benchmarks behind `./flotilla bench` (tiny-guest density, Linux boot vs QEMU)
 *   (this package) MicroVm, VmConfig, ExitReason: the facade and the builder
 *   event          the per-VM event loop (epoll over ioeventfds), irqfd interrupt lines
 *   devices.virtio virtio-mmio transport, split/packed queues, blk and rng devices
 *   vcpu           one platform thread per vCPU, commands run / pause / resume / stop
 *   devices.legacy 16550 UART (COM1), i8042 (reset), boot timer: BusDevices, no threads or fds
 *   bus            port I/O and MMIO address spaces that refuse overlaps
 *   boot           Linux loaders (ELF/PVH, bzImage), zero page, e820, MP table
 *   memory         GuestMemory (bounds-checked), GuestRam (mmap'd RAM around the MMIO hole)
 *   kvm            Kvm / KvmVm / KvmVcpu: one type per fd, one method per ioctl; VcpuExit
 *   sys            the only package with restricted FFM: libc calls, errno, KVM struct layouts
 * </pre>
 *
 * <h2>Building a VM</h2>
 * {@link dev.flotilla.vmm.MicroVm#create} runs named steps, and a failure names its step:
 * <ol>
 *   <li>kvm: the process's one /dev/kvm fd, opened, checked (API 12, the capabilities the engine
 *       uses) and asked for its supported CPUID once per JVM, then shared by every VM;</li>
 *   <li>vm: KVM_CREATE_VM, TSS and identity-map pages (Intel);</li>
 *   <li>memory: anonymous MAP_NORESERVE mappings below and above the 32-bit MMIO hole, one KVM slot each;</li>
 *   <li>irqchip: in-kernel PIC/IOAPIC/LAPIC and PIT;</li>
 *   <li>devices: COM1 at 0x3f8 (IRQ 4), i8042 at 0x60/0x64, boot timer at 0xc0000000, then the
 *       configured virtio-mmio devices (one page and IRQ each, from 0xc0001000 / IRQ 5) with their
 *       event loop, ioeventfds and irqfds, each announced on the kernel command line;</li>
 *   <li>kernel: a {@link dev.flotilla.vmm.GuestLoader} ({@code LinuxBoot} by default) fills memory
 *       and returns the boot CPU's registers;</li>
 *   <li>vcpus: per-vCPU CPUID (APIC id, topology), boot MSRs, LAPIC LINT0/LINT1, and the boot state
 *       on vCPU 0 (the others wait for the guest's INIT/SIPI inside KVM).</li>
 * </ol>
 * The time of the {@code create} call is the start request: both "time to first KVM_RUN" and the
 * boot time (the guest's init writing the boot-timer magic) are measured from it.
 *
 * <h2>Running and ending</h2>
 * Port I/O and MMIO exits are served on the vCPU thread, straight from kvm_run into the bus,
 * without allocating. A vCPU blocked in the kernel (a guest idling in HLT) is interrupted with a
 * real-time signal that is only unblocked inside KVM_RUN (see {@link dev.flotilla.vmm.vcpu.Vcpu}).
 * The VM ends, with an {@link dev.flotilla.vmm.ExitReason}, when the guest resets through the
 * i8042 (Linux {@code reboot=k}), triple-faults or raises a system event, when a vCPU fails, or
 * when the host stops it. {@link dev.flotilla.vmm.MicroVm#close()} joins every thread and
 * releases every fd and mapping: 20 create/run/close cycles leave no fd or thread behind (tested).
 *
 * <h2>Hosts</h2>
 * {@link dev.flotilla.vmm.kvm.KvmHost} tells hardware KVM (kvm_intel / kvm_amd: Linux guests run
 * natively) from PVM (kvm_pvm: small guests run, stock Linux does not) and from no KVM.
 */
package dev.flotilla.vmm;
