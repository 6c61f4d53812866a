package dev.flotilla.contract.v1;

import com.fasterxml.jackson.annotation.JsonIgnoreProperties;
import com.fasterxml.jackson.annotation.JsonInclude;

/**
 * One VM as reported in a heartbeat.
 *
 * @param sandboxId      the sandbox this VM runs
 * @param state          its state
 * @param bootTimeMillis time from launch request to guest init, when known
 * @param memoryMiB      guest memory the VM currently holds
 * @param message        a human-readable reason for FAILED/STOPPED, or null
 */
@JsonInclude(JsonInclude.Include.NON_NULL)
@JsonIgnoreProperties(ignoreUnknown = true)
public record VmReport(String sandboxId, VmState state, Long bootTimeMillis, long memoryMiB, String message) {
}
