package dev.flotilla.vmm.vcpu;

import dev.flotilla.vmm.kvm.VcpuExit;

/** What the VM decides when a vCPU exits for a reason other than port I/O or MMIO. Called on the vCPU thread. */
public interface VcpuExitHandler {

    enum Action {
        /** Run the guest again. */
        CONTINUE,
        /** End this vCPU's thread. */
        STOP
    }

    Action onExit(int vcpuId, VcpuExit exit);

    /** The vCPU thread failed (an ioctl error, a device throwing); the thread ends after this. */
    void onError(int vcpuId, Throwable error);

    /** Called on the vCPU thread just before its first KVM_RUN. */
    default void onFirstRun(int vcpuId, long nanoTime) {
    }
}
