package dev.flotilla.contract.v1;

import com.fasterxml.jackson.annotation.JsonIgnoreProperties;
import com.fasterxml.jackson.annotation.JsonInclude;

/**
 * The answer to a heartbeat.
 *
 * @param heartbeatIntervalSeconds how often to send the next ones
 * @param nodeState                the node's state as the control plane sees it, e.g. {@code READY}
 * @param cordoned                 whether the node takes no new sandboxes
 */
@JsonInclude(JsonInclude.Include.NON_NULL)
@JsonIgnoreProperties(ignoreUnknown = true)
public record HeartbeatAck(int heartbeatIntervalSeconds, String nodeState, boolean cordoned) {
}
