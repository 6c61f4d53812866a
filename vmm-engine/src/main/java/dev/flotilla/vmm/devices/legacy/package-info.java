/**
 * The legacy PC devices a Linux microVM needs: a 16550 UART for the console, an i8042 for the
 * reboot path, and Firecracker's boot timer. Each is a {@link dev.flotilla.vmm.bus.BusDevice} that
 * owns no thread and no fd (output sink, interrupt line and reset callback are given to it), so
 * each is unit-tested alone. Threat notes: the guest controls register accesses only; nothing it
 * writes sizes a buffer, and host input into the UART is bounded by its FIFO.
 */
package dev.flotilla.vmm.devices.legacy;
