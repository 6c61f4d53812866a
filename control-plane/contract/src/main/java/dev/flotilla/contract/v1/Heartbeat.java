package dev.flotilla.contract.v1;

import com.fasterxml.jackson.annotation.JsonIgnoreProperties;
import com.fasterxml.jackson.annotation.JsonInclude;

import java.util.List;

/**
 * A node's periodic report. {@code vms} is the complete list of VMs on the node: a sandbox missing from it is
 * not running there.
 *
 * @param capacity current capacity (may change, e.g. after hot-adding memory); null keeps the registered one
 * @param usage    measured usage
 * @param vms      every VM on the node
 */
@JsonInclude(JsonInclude.Include.NON_NULL)
@JsonIgnoreProperties(ignoreUnknown = true)
public record Heartbeat(NodeCapacity capacity, NodeUsage usage, List<VmReport> vms) {
}
