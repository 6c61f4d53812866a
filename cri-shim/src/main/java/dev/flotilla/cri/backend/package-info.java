/**
 * The seam between the CRI shim and the node-agent. The shim calls these interfaces with requests it has already
 * validated and with ids it generated; the node-agent implements them with its sandbox runtime (microVM per pod,
 * guest agent for containers, CNI), its image store and its HTTP streaming server.
 *
 * <p>Rules for implementations: report expected failures as {@link dev.flotilla.cri.CriException} with the reason
 * that fits (NOT_FOUND, FAILED_PRECONDITION, RESOURCE_EXHAUSTED, UNAVAILABLE...) and a message an operator can act
 * on; lookups return {@link java.util.Optional#empty()} for unknown ids rather than throwing; remove and stop are
 * idempotent and return whether the object existed. Calls may block (they run on virtual threads).
 */
package dev.flotilla.cri.backend;
