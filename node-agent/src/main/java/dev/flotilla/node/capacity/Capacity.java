package dev.flotilla.node.capacity;

/** What the node offers to sandboxes after overcommit: vCPUs, guest memory in MiB, VM slots. */
public record Capacity(int vcpus, long memoryMiB, int maxVms) {
}
