package dev.flotilla.node.sandbox;

import com.fasterxml.jackson.annotation.JsonIgnoreProperties;
import com.fasterxml.jackson.annotation.JsonInclude;
import dev.flotilla.contract.v1.VmState;

import java.time.Instant;

/**
 * What the agent keeps on disk per sandbox ({@code <state-dir>/sandboxes/<id>.json}), rewritten atomically on
 * every state change. {@code agentInstance} names the agent process that ran the VM: a record left RUNNING
 * by another instance is a VM that died with that process.
 */
@JsonInclude(JsonInclude.Include.NON_NULL)
@JsonIgnoreProperties(ignoreUnknown = true)
public record SandboxRecord(int version, SandboxSpec spec, VmState state, String message, Instant createdAt,
                            Instant startedAt, Instant endedAt, Long bootTimeMillis, String agentInstance,
                            NetAttachment network) {
    public static final int VERSION = 1;

    /** The host side of a sandbox's network: its tap, address and MAC. */
    public record NetAttachment(String tap, String address, int prefixLength, String gateway, String mac) {
    }
}
