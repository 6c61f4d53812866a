package dev.flotilla.contract.v1;

import com.fasterxml.jackson.annotation.JsonIgnoreProperties;
import com.fasterxml.jackson.annotation.JsonInclude;

import java.util.List;
import java.util.Map;

/**
 * A node agent announcing itself. Registering again under the same {@code name} (after a restart or a network
 * partition) re-attaches to the existing node record and issues a fresh node token; it never creates a second node.
 *
 * @param name          stable, unique node name (DNS label)
 * @param agentEndpoint base URL of the node agent's sandbox API, e.g. {@code http://10.0.0.5:7070}
 * @param agentToken    bearer token the control plane must present to the agent, or null for none
 * @param capacity      what the node offers
 * @param labels        node labels matched by sandbox node selectors
 * @param taints        node taints
 * @param kvmKind       detected KVM kind
 * @param agentVersion  free-form version of the agent software
 */
@JsonInclude(JsonInclude.Include.NON_NULL)
@JsonIgnoreProperties(ignoreUnknown = true)
public record NodeRegistration(
        String name,
        String agentEndpoint,
        String agentToken,
        NodeCapacity capacity,
        Map<String, String> labels,
        List<Taint> taints,
        KvmKind kvmKind,
        String agentVersion) {
}
