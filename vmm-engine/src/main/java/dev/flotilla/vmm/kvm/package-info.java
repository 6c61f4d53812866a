/**
 * Safe wrappers over the KVM API, one type per kind of fd as in rust-vmm's kvm-ioctls:
 * {@link dev.flotilla.vmm.kvm.Kvm} (/dev/kvm), {@link dev.flotilla.vmm.kvm.KvmVm} (a VM),
 * {@link dev.flotilla.vmm.kvm.KvmVcpu} (a vCPU and its kvm_run). Each method wraps one ioctl and
 * says which. Exits other than port I/O and MMIO are a sealed {@link dev.flotilla.vmm.kvm.VcpuExit}.
 * CPUID and MSR contents for a vCPU are pure functions ({@link dev.flotilla.vmm.kvm.VcpuCpuid},
 * {@link dev.flotilla.vmm.kvm.BootMsrs}), unit-tested without KVM.
 */
package dev.flotilla.vmm.kvm;
