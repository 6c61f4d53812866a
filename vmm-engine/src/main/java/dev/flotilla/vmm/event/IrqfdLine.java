package dev.flotilla.vmm.event;

import dev.flotilla.vmm.interrupt.IrqLine;

import java.util.Objects;

/**
 * An interrupt line backed by an eventfd registered with KVM_IRQFD: writing the eventfd makes the
 * in-kernel irqchip raise its GSI as an edge, from whatever thread, without a VM exit or ioctl.
 *
 * <p>Edge semantics are what virtio-mmio needs with Linux: the MP table routes the IRQ as an ISA
 * edge-triggered pin, and Linux's vm_interrupt reads InterruptStatus and acknowledges it through
 * InterruptACK, so the status register, not the line level, carries what is pending. A lower
 * ({@code setLevel(false)}) has nothing to do on an edge line.
 */
public final class IrqfdLine implements IrqLine {

    private final EventFd eventFd;

    public IrqfdLine(EventFd eventFd) {
        this.eventFd = Objects.requireNonNull(eventFd);
    }

    @Override
    public void setLevel(boolean high) {
        if (high) {
            eventFd.signal();
        }
    }

    @Override
    public void pulse() {
        eventFd.signal();
    }
}
