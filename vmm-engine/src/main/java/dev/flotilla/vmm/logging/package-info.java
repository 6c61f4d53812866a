/**
 * Logging shared by every part a guest can reach (buses, virtio transport and devices): one
 * {@link dev.flotilla.vmm.logging.RateLimitedLog} kind, so that no guest-triggered event can
 * flood the host's log, whichever part it hits.
 */
package dev.flotilla.vmm.logging;
