package dev.flotilla.contract.v1;

import com.fasterxml.jackson.annotation.JsonIgnoreProperties;
import com.fasterxml.jackson.annotation.JsonInclude;

/**
 * A node agent's view of one sandbox.
 *
 * @param sandboxId      identifier
 * @param state          VM state
 * @param generation     spec generation the VM runs
 * @param bootTimeMillis launch-to-init time when known
 * @param message        reason for FAILED/STOPPED, or null
 */
@JsonInclude(JsonInclude.Include.NON_NULL)
@JsonIgnoreProperties(ignoreUnknown = true)
public record SandboxStatus(String sandboxId, VmState state, long generation, Long bootTimeMillis, String message) {
}
