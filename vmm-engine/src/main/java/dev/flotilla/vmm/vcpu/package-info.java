/**
 * vCPU threads: one platform thread per vCPU, driven by commands, serving port I/O and MMIO
 * exits on the bus without allocating. See {@link dev.flotilla.vmm.vcpu.Vcpu} for how a vCPU
 * blocked in KVM_RUN is paused or stopped without a signal handler.
 */
package dev.flotilla.vmm.vcpu;
