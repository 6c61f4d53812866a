package dev.flotilla.node.sandbox;

import dev.flotilla.contract.v1.VmState;
import dev.flotilla.node.console.ConsoleBuffer;
import dev.flotilla.node.sandbox.SandboxRecord.NetAttachment;
import dev.flotilla.vmm.MicroVm;

import java.time.Instant;

/**
 * One sandbox as the agent holds it in memory: its spec, its state and, while it runs, its VM. State changes
 * happen under the sandbox's own lock ({@code synchronized (sandbox)}) in {@link SandboxManager}; readers see
 * a consistent {@link #toRecord()}.
 */
public final class Sandbox {
    final SandboxSpec spec;
    final Instant createdAt;
    final ConsoleBuffer console;
    final String agentInstance;
    VmState state;
    String message;
    Instant startedAt;
    Instant endedAt;
    Long bootTimeMillis;
    MicroVm vm;
    NetAttachment network;
    /** True while vCPUs and memory are held in the ledger; cleared by whoever releases them first. */
    boolean holdsResources;

    Sandbox(SandboxSpec spec, Instant createdAt, ConsoleBuffer console, String agentInstance) {
        this.spec = spec;
        this.createdAt = createdAt;
        this.console = console;
        this.agentInstance = agentInstance;
        this.state = VmState.STARTING;
    }

    /** Rebuilds a sandbox from its record; it has no VM (that died with the previous agent, or had ended). */
    static Sandbox fromRecord(SandboxRecord r, ConsoleBuffer console) {
        Sandbox s = new Sandbox(r.spec(), r.createdAt(), console, r.agentInstance());
        s.state = r.state();
        s.message = r.message();
        s.startedAt = r.startedAt();
        s.endedAt = r.endedAt();
        s.bootTimeMillis = r.bootTimeMillis();
        s.network = r.network();
        return s;
    }

    public SandboxSpec spec() {
        return spec;
    }

    public ConsoleBuffer console() {
        return console;
    }

    public synchronized VmState state() {
        return state;
    }

    /** The running VM, or null. */
    public synchronized MicroVm vm() {
        return vm;
    }

    public synchronized SandboxRecord toRecord() {
        return new SandboxRecord(SandboxRecord.VERSION, spec, state, message, createdAt, startedAt, endedAt,
                bootTimeMillis, agentInstance, network);
    }
}
