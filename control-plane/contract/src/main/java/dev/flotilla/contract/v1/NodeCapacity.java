package dev.flotilla.contract.v1;

import com.fasterxml.jackson.annotation.JsonIgnoreProperties;
import com.fasterxml.jackson.annotation.JsonInclude;

/** What a node offers to sandboxes: vCPUs, guest memory in MiB and the most VMs it will run at once. */
@JsonInclude(JsonInclude.Include.NON_NULL)
@JsonIgnoreProperties(ignoreUnknown = true)
public record NodeCapacity(int vcpus, long memoryMiB, int maxVms) {
}
