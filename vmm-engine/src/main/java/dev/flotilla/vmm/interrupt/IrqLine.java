package dev.flotilla.vmm.interrupt;

/**
 * An interrupt line into the guest's interrupt controller. Devices own no fds: they are given
 * one of these (backed by KVM_IRQ_LINE or an irqfd in a VM, by a recorder in tests).
 */
public interface IrqLine {

    /** Raises or lowers a level-triggered line. */
    void setLevel(boolean high);

    /** Signals an edge: raise then lower. */
    default void pulse() {
        setLevel(true);
        setLevel(false);
    }
}
