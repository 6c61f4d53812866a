/**
 * The per-VM event loop and its eventfds: {@link dev.flotilla.vmm.event.EventLoop} (one platform
 * thread in epoll_wait) runs device work when a queue's ioeventfd fires or an I/O completion is
 * posted; {@link dev.flotilla.vmm.event.IrqfdLine} injects interrupts by writing an irqfd. Nothing
 * here knows about virtio: the wiring of a device to KVM is done where the VM is built.
 */
package dev.flotilla.vmm.event;
