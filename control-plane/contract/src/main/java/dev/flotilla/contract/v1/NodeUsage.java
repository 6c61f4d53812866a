package dev.flotilla.contract.v1;

import com.fasterxml.jackson.annotation.JsonIgnoreProperties;
import com.fasterxml.jackson.annotation.JsonInclude;

/** What a node's running VMs use right now, as measured by the node agent. */
@JsonInclude(JsonInclude.Include.NON_NULL)
@JsonIgnoreProperties(ignoreUnknown = true)
public record NodeUsage(int vcpusUsed, long memoryMiBUsed, int vmCount) {
}
