package dev.flotilla.contract.v1;

import com.fasterxml.jackson.annotation.JsonIgnoreProperties;
import com.fasterxml.jackson.annotation.JsonInclude;

/**
 * The control plane's answer to a registration.
 *
 * @param nodeId                   identifier to use in heartbeat paths
 * @param nodeToken                bearer token for heartbeats; replaces any token issued earlier to this node
 * @param heartbeatIntervalSeconds how often the agent must send a heartbeat
 * @param heartbeatTimeoutSeconds  after this long without a heartbeat the node is marked unhealthy
 * @param contractVersion          the contract version the control plane speaks
 */
@JsonInclude(JsonInclude.Include.NON_NULL)
@JsonIgnoreProperties(ignoreUnknown = true)
public record NodeRegistrationAccepted(
        String nodeId,
        String nodeToken,
        int heartbeatIntervalSeconds,
        int heartbeatTimeoutSeconds,
        String contractVersion) {
}
