/**
 * Sandboxes: admission, VM lifecycle and records.
 *
 * <p>States follow the contract's {@code VmState}: STARTING (VM built and started, guest not yet signalled) →
 * RUNNING (the guest wrote the boot timer) → STOPPING → STOPPED, or FAILED with a message. A sandbox holds its
 * resources from admission until its VM is released, whichever way it ends (stop, delete, guest exit, boot timeout,
 * build failure); release happens exactly once. Records of sandboxes that were STARTING/RUNNING/STOPPING under a
 * previous agent process are marked FAILED ("lost") at start: a VM cannot outlive the JVM that ran it.
 */
package dev.flotilla.node.sandbox;
