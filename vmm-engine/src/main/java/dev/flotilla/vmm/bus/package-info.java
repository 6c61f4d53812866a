/**
 * Address spaces of devices ({@link dev.flotilla.vmm.bus.Bus}): port I/O and MMIO. Ranges never
 * overlap; unknown accesses are ignored (reads give all ones) and logged through a
 * {@link dev.flotilla.vmm.logging.RateLimitedLog}, because a guest decides how often they happen.
 */
package dev.flotilla.vmm.bus;
