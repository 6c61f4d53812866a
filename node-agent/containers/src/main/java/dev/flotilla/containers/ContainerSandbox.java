package dev.flotilla.containers;

import dev.flotilla.agent.client.AgentClient;
import dev.flotilla.agent.client.AgentErrorException;
import dev.flotilla.agent.client.AgentException;
import dev.flotilla.agent.client.ProcessListener;
import dev.flotilla.agent.protocol.ContainerSpec;
import dev.flotilla.agent.protocol.CreateSandbox;
import dev.flotilla.agent.protocol.ErrorCode;
import dev.flotilla.agent.protocol.ExitStatus;
import dev.flotilla.agent.protocol.Interface;
import dev.flotilla.agent.protocol.Namespaces;
import dev.flotilla.agent.protocol.Process;
import dev.flotilla.agent.protocol.Resources;
import dev.flotilla.agent.protocol.Root;
import dev.flotilla.agent.protocol.Stats;
import dev.flotilla.images.ImageConfig;
import dev.flotilla.vmm.MicroVm;
import dev.flotilla.vmm.devices.virtio.vsock.VsockHost;

import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.ConcurrentHashMap;
import java.util.regex.Pattern;

/**
 * The containers of one running microVM, through its guest agent. Created by {@link #connect} once the VM runs
 * (its config wired by {@link GuestWiring}); every container's root is the VM's read-only image disk with a
 * private writable layer (the agent's overlay), in its own pid, uts and ipc namespaces, sharing the VM's network.
 * Thread-safe.
 */
public final class ContainerSandbox implements AutoCloseable {
    /** Container and exec ids as the agent accepts them. */
    public static final Pattern ID = Pattern.compile("[A-Za-z0-9_.-]{1,63}");
    /** Output retained per process: enough for a log tail, bounded so that a chatty container cannot grow the host's heap. */
    public static final int LOG_BYTES = 256 * 1024;

    /** What the sandbox's owner hears about: a container's exit, the agent's loss. Called on the client's reader thread. */
    public interface Events {
        default void containerExited(String containerId, ExitStatus status) {}

        default void agentLost(String reason) {}

        Events NONE = new Events() {};
    }

    /** How the guest's network is set up: its interface address and gateway; empty for none. */
    public record Network(String ipv4Cidr, String gateway) {
    }

    /** Settings of the sandbox inside the guest. */
    public record Settings(String hostname, Optional<Network> network, List<String> dnsServers) {
        public Settings {
            dnsServers = List.copyOf(dnsServers);
        }

        public static Settings hostname(String hostname) {
            return new Settings(hostname, Optional.empty(), List.of());
        }
    }

    /** One container: its request, its output and exit, and its execs. */
    public static final class Container {
        private final String id;
        private final List<String> args;
        /** Its process as created; execs inherit its environment, working directory and user. */
        private final Process process;
        private final ContainerLog log = new ContainerLog(LOG_BYTES);
        private final Map<String, ContainerLog> execs = new ConcurrentHashMap<>();
        private volatile boolean started;

        Container(String id, Process process) {
            this.id = id;
            this.process = process;
            this.args = List.copyOf(process.getArgsList());
        }

        public String id() {
            return id;
        }

        public List<String> args() {
            return args;
        }

        public ContainerLog log() {
            return log;
        }

        public boolean started() {
            return started;
        }

        /** The exit status once it ended. */
        public Optional<ExitStatus> exitStatus() {
            var exit = log.exit();
            return exit.isDone() && !exit.isCompletedExceptionally() ? Optional.of(exit.join()) : Optional.empty();
        }

        public Optional<ContainerLog> exec(String execId) {
            return Optional.ofNullable(execs.get(execId));
        }
    }

    private final String name;
    private final AgentClient agent;
    private final ImageConfig imageConfig;
    private final Events events;
    private final String hostname;
    private final Map<String, Container> containers = new ConcurrentHashMap<>();
    private volatile String lostReason;

    private ContainerSandbox(String name, AgentClient agent, ImageConfig imageConfig, Events events, String hostname) {
        this.name = name;
        this.hostname = hostname;
        this.agent = agent;
        this.imageConfig = imageConfig;
        this.events = events;
    }

    /**
     * Reaches the guest agent of {@code vm} (retrying while the guest boots, up to {@code timeout}) and creates the
     * sandbox in it.
     *
     * @throws ContainerException naming the sandbox when the VM has no vsock device, the agent never answers, or
     *                            it refuses the sandbox settings
     */
    public static ContainerSandbox connect(String name, MicroVm vm, ImageConfig imageConfig, Settings settings,
                                           Duration timeout, Events events) throws InterruptedException {
        VsockHost vsock = vm.vsock().orElseThrow(() -> new ContainerException(
                "sandbox " + name + " has no vsock device: its VM was not wired for containers"));
        AgentClient agent;
        try {
            agent = AgentClient.connect(vsock, timeout);
        } catch (AgentException e) {
            throw new ContainerException("sandbox " + name + ": the guest agent did not come up: " + e.getMessage(), e);
        }
        ContainerSandbox sandbox = new ContainerSandbox(name, agent, imageConfig, events, settings.hostname());
        try {
            agent.createSandbox(createSandbox(settings));
        } catch (AgentException e) {
            agent.close();
            throw new ContainerException("sandbox " + name + ": the guest agent refused the sandbox settings: " + e.getMessage(), e);
        }
        return sandbox;
    }

    static CreateSandbox createSandbox(Settings settings) {
        CreateSandbox.Builder b = CreateSandbox.newBuilder().setHostname(settings.hostname()).addAllDnsServers(settings.dnsServers());
        settings.network().ifPresent(n -> {
            b.addInterfaces(Interface.newBuilder().setName("eth0").setIpv4Cidr(n.ipv4Cidr()));
            if (n.gateway() != null && !n.gateway().isBlank()) {
                b.setIpv4Gateway(n.gateway());
            }
        });
        return b.build();
    }

    public String name() {
        return name;
    }

    public ImageConfig imageConfig() {
        return imageConfig;
    }

    /** Null while the agent is reachable, else why it is not. */
    public String lostReason() {
        return lostReason;
    }

    /** Creates a container running the image's process, with {@code command} replacing Cmd when not empty. */
    public Container create(String containerId, List<String> command, List<String> env) throws InterruptedException {
        return create(containerId, ProcessTemplate.from(imageConfig, command, env), ProcessListener.NONE);
    }

    /**
     * Creates a container running {@code process} (see {@link ProcessTemplate}); {@code output} hears its output
     * and exit too, besides the container's own {@link ContainerLog} (e.g. a CRI log file writer).
     */
    public Container create(String containerId, Process process, ProcessListener output) throws InterruptedException {
        return create(containerId, process, Resources.getDefaultInstance(), output);
    }

    /** A container with cgroup limits inside the guest (zero fields: none). */
    public Container create(String containerId, Process process, Resources resources, ProcessListener output)
            throws InterruptedException {
        checkId(containerId, "container");
        Container c = new Container(containerId, process);
        if (containers.putIfAbsent(containerId, c) != null) {
            throw new ContainerException("sandbox " + name + " already has a container " + containerId);
        }
        ContainerSpec spec = ContainerSpec.newBuilder().setProcess(process)
                .setRoot(Root.newBuilder().setDevice(GuestWiring.ROOT_DEVICE).setFsType(GuestWiring.ROOT_FS_TYPE))
                .setNamespaces(Namespaces.newBuilder().setPid(true).setUts(true).setIpc(true))
                // Like the containers of a pod, every container answers to the sandbox's host name.
                .setHostname(hostname)
                .setResources(resources)
                .build();
        c.log.exit().whenComplete((status, failure) -> {
            if (status != null) {
                events.containerExited(containerId, status);
            } else {
                lost(failure.getMessage());
            }
        });
        try {
            agent.createContainer(containerId, spec, output == ProcessListener.NONE ? c.log : tee(c.log, output));
        } catch (AgentException e) {
            containers.remove(containerId);
            throw failure("create container " + containerId, e);
        }
        return c;
    }

    public void start(String containerId) throws InterruptedException {
        Container c = container(containerId);
        try {
            agent.startContainer(containerId);
            c.started = true;
        } catch (AgentException e) {
            throw failure("start container " + containerId, e);
        }
    }

    /** Creates and starts. */
    public Container run(String containerId, List<String> command, List<String> env) throws InterruptedException {
        Container c = create(containerId, command, env);
        start(containerId);
        return c;
    }

    public Container container(String containerId) {
        Container c = containers.get(containerId);
        if (c == null) {
            throw new ContainerNotFoundException("sandbox " + name + " has no container " + containerId);
        }
        return c;
    }

    public List<Container> containers() {
        return List.copyOf(containers.values());
    }

    /** Sends {@code signal} (1-64) to the container's process. */
    public void signal(String containerId, int signal) throws InterruptedException {
        container(containerId);
        if (signal < 1 || signal > 64) {
            throw new ContainerException("signal " + signal + " is not a Linux signal number (1-64)");
        }
        try {
            agent.signal(containerId, "", signal);
        } catch (AgentException e) {
            throw failure("signal container " + containerId, e);
        }
    }

    /** Sends {@code signal} to exec {@code execId} of a container (empty: the container's own process). */
    public void signal(String containerId, String execId, int signal) throws InterruptedException {
        container(containerId);
        if (signal < 1 || signal > 64) {
            throw new ContainerException("signal " + signal + " is not a Linux signal number (1-64)");
        }
        try {
            agent.signal(containerId, execId, signal);
        } catch (AgentException e) {
            throw failure("signal " + (execId.isEmpty() ? "container " + containerId : "exec " + execId), e);
        }
    }

    /** Kills the container's processes if they run and removes it from the guest. */
    public void delete(String containerId) throws InterruptedException {
        container(containerId);
        try {
            agent.deleteContainer(containerId);
        } catch (AgentException e) {
            throw failure("delete container " + containerId, e);
        } finally {
            containers.remove(containerId);
        }
    }

    /** New cgroup limits for a container, as a whole (zero fields: no limit, the default weight). */
    public void updateResources(String containerId, Resources resources) throws InterruptedException {
        container(containerId);
        try {
            agent.updateResources(containerId, resources);
        } catch (AgentException e) {
            throw failure("update the resources of container " + containerId, e);
        }
    }

    /** The container's cgroup figures (memory, CPU, pids) as the guest sees them. */
    public Stats stats(String containerId) throws InterruptedException {
        container(containerId);
        try {
            return agent.stats(containerId);
        } catch (AgentException e) {
            throw failure("read the stats of container " + containerId, e);
        }
    }

    private static ProcessListener tee(ProcessListener first, ProcessListener second) {
        return new ProcessListener() {
            @Override
            public void onOutput(dev.flotilla.agent.protocol.Stream stream, byte[] data) {
                first.onOutput(stream, data);
                second.onOutput(stream, data);
            }

            @Override
            public void onExit(ExitStatus status) {
                // The second listener (a log file) is complete before anyone woken by the first reads it.
                second.onExit(status);
                first.onExit(status);
            }

            @Override
            public void onDisconnected(AgentException cause) {
                second.onDisconnected(cause);
                first.onDisconnected(cause);
            }
        };
    }

    /** Runs {@code args} in the running container's namespaces, with the container's env and working directory. */
    public ContainerLog exec(String containerId, String execId, List<String> args) throws InterruptedException {
        Container c = container(containerId);
        checkId(execId, "exec");
        if (args.isEmpty()) {
            throw new ContainerException("exec " + execId + " in container " + containerId + " needs a command");
        }
        // Like docker exec and the kubelet's exec: the container's environment, working directory and user.
        Process process = c.process.toBuilder().clearArgs().addAllArgs(args).setTerminal(false).build();
        ContainerLog log = new ContainerLog(LOG_BYTES);
        if (c.execs.putIfAbsent(execId, log) != null) {
            throw new ContainerException("container " + containerId + " already has an exec " + execId);
        }
        try {
            agent.exec(containerId, execId, process, log);
            agent.closeStdin(containerId, execId);
        } catch (AgentException e) {
            c.execs.remove(execId);
            throw failure("exec " + execId + " in container " + containerId, e);
        }
        return log;
    }

    /** A terminal for an interactive exec: its initial size. */
    public record Tty(int rows, int cols) {
    }

    /**
     * Starts {@code args} in the running container like {@link #exec} but interactive: stdin stays open for
     * {@link #writeStdin}, with a terminal when {@code tty} is present; output and exit go only to {@code listener}
     * (nothing is retained: the caller streams it).
     */
    public void execInteractive(String containerId, String execId, List<String> args, Optional<Tty> tty,
                                ProcessListener listener) throws InterruptedException {
        Container c = container(containerId);
        checkId(execId, "exec");
        if (args.isEmpty()) {
            throw new ContainerException("exec " + execId + " in container " + containerId + " needs a command");
        }
        Process.Builder process = c.process.toBuilder().clearArgs().addAllArgs(args).setTerminal(tty.isPresent());
        tty.ifPresent(t -> process.setTtyRows(t.rows()).setTtyCols(t.cols()));
        try {
            agent.exec(containerId, execId, process.build(), listener);
        } catch (AgentException e) {
            throw failure("exec " + execId + " in container " + containerId, e);
        }
    }

    public void writeStdin(String containerId, String execId, byte[] data) throws InterruptedException {
        try {
            agent.writeStdin(containerId, execId, data);
        } catch (AgentException e) {
            throw failure("write to the stdin of exec " + execId, e);
        }
    }

    public void closeStdin(String containerId, String execId) throws InterruptedException {
        try {
            agent.closeStdin(containerId, execId);
        } catch (AgentException e) {
            throw failure("close the stdin of exec " + execId, e);
        }
    }

    public void resizeTty(String containerId, String execId, int rows, int cols) throws InterruptedException {
        try {
            agent.resizeTty(containerId, execId, rows, cols);
        } catch (AgentException e) {
            throw failure("resize the terminal of exec " + execId, e);
        }
    }

    /** Drops the retained output of a finished exec (callers that read it once, like ExecSync, free it). */
    public void forgetExec(String containerId, String execId) {
        Container c = containers.get(containerId);
        if (c != null) {
            c.execs.remove(execId);
        }
    }

    /** Asks the guest to power off (the VM then ends). */
    public void shutdown() throws InterruptedException {
        try {
            agent.shutdown();
        } catch (AgentException e) {
            throw failure("shut down", e);
        }
    }

    private void lost(String reason) {
        if (lostReason == null) {
            lostReason = reason;
            events.agentLost(reason);
        }
    }

    private ContainerException failure(String what, AgentException e) {
        if (e instanceof AgentErrorException err && err.code() == ErrorCode.NOT_FOUND) {
            return new ContainerNotFoundException("sandbox " + name + ": cannot " + what + ": " + e.getMessage());
        }
        if (!agent.isConnected()) {
            lost(e.getMessage());
        }
        return new ContainerException("sandbox " + name + ": cannot " + what + ": " + e.getMessage(), e);
    }

    private static void checkId(String id, String what) {
        if (id == null || !ID.matcher(id).matches()) {
            throw new ContainerException(what + " id '" + id + "' must be 1-63 characters of A-Z, a-z, 0-9, '_', '.', '-'");
        }
    }

    @Override
    public void close() {
        agent.close();
    }
}
