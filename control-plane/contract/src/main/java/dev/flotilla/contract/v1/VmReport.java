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
 * @param consoleUrl     where the node agent serves this VM's serial console (http(s) or ws(s) URL), or null when it
 *                       serves none; shown to users by the control plane's dashboard. Added compatibly in v1.
 */
@JsonInclude(JsonInclude.Include.NON_NULL)
@JsonIgnoreProperties(ignoreUnknown = true)
public record VmReport(String sandboxId, VmState state, Long bootTimeMillis, long memoryMiB, String message,
                       String consoleUrl) {

    /** A report without a console (agents that serve none). */
    public VmReport(String sandboxId, VmState state, Long bootTimeMillis, long memoryMiB, String message) {
        this(sandboxId, state, bootTimeMillis, memoryMiB, message, null);
    }
}
