package dev.flotilla.node.sandbox;

import com.fasterxml.jackson.annotation.JsonInclude;
import dev.flotilla.contract.v1.VmState;

import java.time.Instant;
import java.util.List;
import java.util.Map;

/** A sandbox as the node's own API shows it. */
@JsonInclude(JsonInclude.Include.NON_NULL)
public record SandboxView(String id, String name, String guest, String image, List<String> command, int vcpus,
                          long memoryMiB, Map<String, String> labels, long generation, VmState state, String message,
                          Instant createdAt, Instant startedAt, Instant endedAt, Long bootTimeMillis,
                          Network network, Long residentMemoryBytes, long consoleBytes) {

    @JsonInclude(JsonInclude.Include.NON_NULL)
    public record Network(String tap, String address, int prefixLength, String gateway, String mac) {
    }

    public static SandboxView of(Sandbox sandbox) {
        SandboxRecord r = sandbox.toRecord();
        SandboxSpec s = r.spec();
        var vm = sandbox.vm();
        Long resident = null;
        if (vm != null) {
            try {
                resident = vm.residentMemoryBytes();
            } catch (RuntimeException e) {
                // closed under us: no figure
            }
        }
        Network net = r.network() == null ? null : new Network(r.network().tap(), r.network().address(),
                r.network().prefixLength(), r.network().gateway(), r.network().mac());
        return new SandboxView(s.id(), s.name(), s.guest().wireName(), s.image(), s.command(), s.vcpus(), s.memoryMiB(),
                s.labels(), s.generation(), r.state(), r.message(), r.createdAt(), r.startedAt(), r.endedAt(),
                r.bootTimeMillis(), net, resident, sandbox.console().totalBytes());
    }

    public record Page(List<SandboxView> sandboxes, int count) {
    }
}
