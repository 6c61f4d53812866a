package dev.flotilla.agent.client;

import com.google.protobuf.ByteString;
import com.google.protobuf.InvalidProtocolBufferException;
import dev.flotilla.agent.protocol.AgentMessage;
import dev.flotilla.agent.protocol.CloseStdin;
import dev.flotilla.agent.protocol.ContainerSpec;
import dev.flotilla.agent.protocol.CreateContainer;
import dev.flotilla.agent.protocol.CreateSandbox;
import dev.flotilla.agent.protocol.DeleteContainer;
import dev.flotilla.agent.protocol.ErrorCode;
import dev.flotilla.agent.protocol.ExecProcess;
import dev.flotilla.agent.protocol.ExitStatus;
import dev.flotilla.agent.protocol.GetStats;
import dev.flotilla.agent.protocol.Resources;
import dev.flotilla.agent.protocol.UpdateResources;
import dev.flotilla.agent.protocol.Hello;
import dev.flotilla.agent.protocol.HelloReply;
import dev.flotilla.agent.protocol.HostMessage;
import dev.flotilla.agent.protocol.OomEvent;
import dev.flotilla.agent.protocol.Process;
import dev.flotilla.agent.protocol.ProcessRef;
import dev.flotilla.agent.protocol.ResizeTty;
import dev.flotilla.agent.protocol.SignalProcess;
import dev.flotilla.agent.protocol.Shutdown;
import dev.flotilla.agent.protocol.StartContainer;
import dev.flotilla.agent.protocol.Stats;
import dev.flotilla.agent.protocol.WaitProcess;
import dev.flotilla.agent.protocol.WriteStdin;
import dev.flotilla.vmm.devices.virtio.vsock.VsockConnection;
import dev.flotilla.vmm.devices.virtio.vsock.VsockHost;

import java.io.Closeable;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.ConnectException;
import java.net.SocketTimeoutException;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.concurrent.CancellationException;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;
import java.util.function.Consumer;

/**
 * A connection to one guest agent (guest/agent) over the VM's vsock, speaking
 * {@code agent.proto} version {@value #PROTOCOL_VERSION}.
 *
 * <p>Requests are multiplexed: each gets an id, any number may be pending, answers arrive in
 * any order. Every blocking call has a timeout ({@link #requestTimeout()}, or its own for
 * {@link #waitFor}); the async forms return futures that can be cancelled. One virtual reader
 * thread parses frames and delivers process events to {@link ProcessListener}s. When the
 * connection ends — the agent died, the VM exited, a protocol error, {@link #close()} — every
 * pending call and every later one fails with {@link AgentDisconnectedException} naming the
 * request and the cause, and every listener hears {@code onDisconnected}.
 *
 * <p>Safe for use by many threads.
 */
public final class AgentClient implements AutoCloseable {

    /** The vsock port the agent listens on in every guest (guest/agent/main.c). */
    public static final int AGENT_VSOCK_PORT = 1024;
    public static final int PROTOCOL_VERSION = 1;
    public static final Duration DEFAULT_REQUEST_TIMEOUT = Duration.ofSeconds(30);
    /** Stdin data per WriteStdin request: the agent's bound for WriteStdin.data. */
    static final int STDIN_CHUNK = 32_768;

    private static final System.Logger LOG = System.getLogger(AgentClient.class.getName());

    private record Pending(String what, CompletableFuture<AgentMessage> future) {}

    private record ProcessKey(String containerId, String execId) {}

    private final String peer;
    private final InputStream in;
    private final OutputStream out;
    private final Closeable transport;
    private final Duration requestTimeout;
    private final RequestLimits limits = RequestLimits.agent();
    private final Object writeLock = new Object();
    private final AtomicLong nextId = new AtomicLong(1);
    private final Map<Long, Pending> pending = new ConcurrentHashMap<>();
    private final Map<ProcessKey, ProcessListener> listeners = new ConcurrentHashMap<>();
    private volatile Consumer<OomEvent> oomListener = e -> { };
    private volatile AgentException closedBy;
    private final Thread reader;
    private volatile HelloReply hello;

    private AgentClient(String peer, InputStream in, OutputStream out, Closeable transport, Duration requestTimeout) {
        this.peer = peer;
        this.in = in;
        this.out = out;
        this.transport = transport;
        this.requestTimeout = requestTimeout;
        this.reader = Thread.ofVirtual().name("agent-client " + peer).unstarted(this::readLoop);
    }

    /**
     * Connects to the agent of the VM behind {@code host}, retrying while the guest refuses
     * (the agent is not listening yet: the guest is still booting) until {@code timeout}, then
     * exchanges Hello and checks the protocol version.
     */
    public static AgentClient connect(VsockHost host, Duration timeout) throws AgentException, InterruptedException {
        return connect(host, timeout, DEFAULT_REQUEST_TIMEOUT);
    }

    public static AgentClient connect(VsockHost host, Duration timeout, Duration requestTimeout) throws AgentException, InterruptedException {
        String peer = "guest agent at vsock %d:%d".formatted(host.guestCid(), AGENT_VSOCK_PORT);
        long deadline = System.nanoTime() + timeout.toNanos();
        IOException last = null;
        while (true) {
            long left = deadline - System.nanoTime();
            if (left <= 0) {
                throw new AgentDisconnectedException("%s did not accept a connection within %s%s".formatted(peer, timeout,
                        last == null ? "" : " (last attempt: " + last.getMessage() + ")"), last);
            }
            try {
                VsockConnection c = host.connect(AGENT_VSOCK_PORT, Duration.ofNanos(left));
                AgentClient client = new AgentClient(peer, c.inputStream(), c.outputStream(), c::close, requestTimeout);
                client.start(Duration.ofNanos(Math.max(deadline - System.nanoTime(), TimeUnit.SECONDS.toNanos(1))));
                return client;
            } catch (ConnectException | SocketTimeoutException e) {
                last = e; // nothing listens yet
                Thread.sleep(100);
            } catch (AgentException e) {
                throw e;
            } catch (IOException e) {
                throw new AgentDisconnectedException(peer + ": cannot connect: " + e.getMessage(), e);
            }
        }
    }

    /** A client over any byte stream pair (tests, or a Unix-socket bridge); performs the handshake. */
    public static AgentClient open(String peer, InputStream in, OutputStream out, Closeable transport, Duration requestTimeout)
            throws AgentException, InterruptedException {
        AgentClient client = new AgentClient(peer, in, out, transport, requestTimeout);
        client.start(requestTimeout);
        return client;
    }

    private void start(Duration handshakeTimeout) throws AgentException, InterruptedException {
        reader.start();
        AgentMessage reply;
        try {
            reply = await(call(HostMessage.newBuilder().setHello(Hello.newBuilder()
                    .setProtocolVersion(PROTOCOL_VERSION).setClient("flotilla-agent-client")), "Hello", handshakeTimeout));
        } catch (AgentErrorException e) {
            close();
            if (e.code() == ErrorCode.UNSUPPORTED_VERSION) {
                throw new AgentProtocolException(peer + " does not speak protocol version " + PROTOCOL_VERSION + ": " + e.agentMessage(), e);
            }
            throw e;
        } catch (AgentException | InterruptedException e) {
            close();
            throw e;
        }
        if (!reply.hasHello() || reply.getHello().getProtocolVersion() != PROTOCOL_VERSION) {
            close();
            throw new AgentProtocolException("%s answered Hello with %s; expected protocol version %d"
                    .formatted(peer, reply.hasHello() ? "version " + reply.getHello().getProtocolVersion() : reply.getBodyCase(), PROTOCOL_VERSION));
        }
        hello = reply.getHello();
    }

    /** The agent's Hello answer (its protocol and agent versions). */
    public HelloReply agentHello() {
        return hello;
    }

    public Duration requestTimeout() {
        return requestTimeout;
    }

    /** True until the connection ends. */
    public boolean isConnected() {
        return closedBy == null;
    }

    // ------------------------------------------------------------------ operations

    public void createSandbox(CreateSandbox sandbox) throws AgentException, InterruptedException {
        await(call(HostMessage.newBuilder().setCreateSandbox(sandbox), "CreateSandbox", requestTimeout));
    }

    /**
     * Creates a container whose process waits for {@link #startContainer}; {@code listener}
     * receives its output and exit. Returns the process's pid in the guest.
     */
    public int createContainer(String containerId, ContainerSpec spec, ProcessListener listener) throws AgentException, InterruptedException {
        ProcessKey key = new ProcessKey(containerId, "");
        listeners.put(key, Objects.requireNonNull(listener));
        try {
            return await(call(HostMessage.newBuilder().setCreateContainer(CreateContainer.newBuilder()
                    .setContainerId(containerId).setSpec(spec)), "CreateContainer " + containerId, requestTimeout)).getStarted().getPid();
        } catch (AgentException | InterruptedException | RuntimeException e) {
            listeners.remove(key, listener);
            throw e;
        }
    }

    public void startContainer(String containerId) throws AgentException, InterruptedException {
        await(call(HostMessage.newBuilder().setStartContainer(StartContainer.newBuilder().setContainerId(containerId)),
                "StartContainer " + containerId, requestTimeout));
    }

    /** Runs another process in a running container's namespaces and cgroup; returns its guest pid. */
    public int exec(String containerId, String execId, Process process, ProcessListener listener) throws AgentException, InterruptedException {
        ProcessKey key = new ProcessKey(containerId, execId);
        listeners.put(key, Objects.requireNonNull(listener));
        try {
            return await(call(HostMessage.newBuilder().setExecProcess(ExecProcess.newBuilder()
                    .setContainerId(containerId).setExecId(execId).setProcess(process)),
                    "Exec %s in %s".formatted(execId, containerId), requestTimeout)).getStarted().getPid();
        } catch (AgentException | InterruptedException | RuntimeException e) {
            listeners.remove(key, listener);
            throw e;
        }
    }

    /**
     * Completes with the process's exit status once it exited (at once if it already had).
     * No timeout of its own; cancel the future to stop waiting.
     */
    public CompletableFuture<ExitStatus> waitAsync(String containerId, String execId) {
        return call(HostMessage.newBuilder().setWaitProcess(WaitProcess.newBuilder().setProcess(ref(containerId, execId))),
                "Wait for " + describe(containerId, execId), null).thenApply(AgentMessage::getExit);
    }

    public ExitStatus waitFor(String containerId, String execId, Duration timeout) throws AgentException, InterruptedException {
        CompletableFuture<ExitStatus> f = waitAsync(containerId, execId);
        try {
            return f.get(timeout.toNanos(), TimeUnit.NANOSECONDS);
        } catch (java.util.concurrent.TimeoutException e) {
            f.cancel(false);
            throw new AgentTimeoutException("%s did not exit within %s".formatted(describe(containerId, execId), timeout));
        } catch (ExecutionException e) {
            throw unwrap(e);
        } catch (InterruptedException e) {
            f.cancel(false);
            throw e;
        }
    }

    public void signal(String containerId, String execId, int signal) throws AgentException, InterruptedException {
        await(call(HostMessage.newBuilder().setSignalProcess(SignalProcess.newBuilder()
                .setProcess(ref(containerId, execId)).setSignal(signal)), "Signal %d to %s".formatted(signal, describe(containerId, execId)), requestTimeout));
    }

    /** Writes all of {@code data} to the process's stdin (in chunks the agent accepts). */
    public void writeStdin(String containerId, String execId, byte[] data) throws AgentException, InterruptedException {
        for (int off = 0; off < data.length; off += STDIN_CHUNK) {
            int len = Math.min(STDIN_CHUNK, data.length - off);
            await(call(HostMessage.newBuilder().setWriteStdin(WriteStdin.newBuilder().setProcess(ref(containerId, execId))
                    .setData(ByteString.copyFrom(data, off, len))), "WriteStdin to " + describe(containerId, execId), requestTimeout));
        }
    }

    public void closeStdin(String containerId, String execId) throws AgentException, InterruptedException {
        await(call(HostMessage.newBuilder().setCloseStdin(CloseStdin.newBuilder().setProcess(ref(containerId, execId))),
                "CloseStdin of " + describe(containerId, execId), requestTimeout));
    }

    public void resizeTty(String containerId, String execId, int rows, int cols) throws AgentException, InterruptedException {
        await(call(HostMessage.newBuilder().setResizeTty(ResizeTty.newBuilder().setProcess(ref(containerId, execId)).setRows(rows).setCols(cols)),
                "ResizeTty of " + describe(containerId, execId), requestTimeout));
    }

    public Stats stats(String containerId) throws AgentException, InterruptedException {
        return await(call(HostMessage.newBuilder().setGetStats(GetStats.newBuilder().setContainerId(containerId)),
                "GetStats " + containerId, requestTimeout)).getStats();
    }

    /** Sets the container's cgroup limits as a whole: a zero field means no limit (or the default weight). */
    public void updateResources(String containerId, Resources resources) throws AgentException, InterruptedException {
        await(call(HostMessage.newBuilder().setUpdateResources(UpdateResources.newBuilder().setContainerId(containerId)
                .setResources(resources)), "UpdateResources " + containerId, requestTimeout));
    }

    public void deleteContainer(String containerId) throws AgentException, InterruptedException {
        await(call(HostMessage.newBuilder().setDeleteContainer(DeleteContainer.newBuilder().setContainerId(containerId)),
                "DeleteContainer " + containerId, requestTimeout));
        listeners.keySet().removeIf(k -> k.containerId().equals(containerId));
    }

    /**
     * Asks the agent to stop every container and end the VM (the guest reboots, which the VMM
     * treats as the VM's end). Returns once the agent confirmed or the connection ended.
     */
    public void shutdown() throws AgentException, InterruptedException {
        try {
            await(call(HostMessage.newBuilder().setShutdown(Shutdown.getDefaultInstance()), "Shutdown", requestTimeout));
        } catch (AgentDisconnectedException e) {
            // the guest went down before its answer arrived: that is what was asked for
        }
    }

    /** Receives OOM-kill events of containers created on this connection (on the reader thread). */
    public void onOom(Consumer<OomEvent> listener) {
        oomListener = Objects.requireNonNull(listener);
    }

    // ------------------------------------------------------------------ machinery

    private static ProcessRef ref(String containerId, String execId) {
        return ProcessRef.newBuilder().setContainerId(containerId).setExecId(execId == null ? "" : execId).build();
    }

    private static String describe(String containerId, String execId) {
        return execId == null || execId.isEmpty() ? "container " + containerId : "exec " + execId + " in container " + containerId;
    }

    /**
     * Sends one request; the future completes with the answer, or exceptionally with an
     * {@link AgentException}. A null timeout waits forever (until cancelled or disconnected).
     */
    CompletableFuture<AgentMessage> call(HostMessage.Builder request, String what, Duration timeout) {
        CompletableFuture<AgentMessage> future = new CompletableFuture<>();
        AgentException dead = closedBy;
        if (dead != null) {
            future.completeExceptionally(new AgentDisconnectedException(what + " failed: " + dead.getMessage(), dead));
            return future;
        }
        long id = nextId.getAndIncrement();
        HostMessage message = request.setId(id).build();
        limits.check(message);
        byte[] payload = message.toByteArray();
        if (payload.length > Frames.MAX_PAYLOAD) {
            throw new IllegalArgumentException("%s encodes to %d bytes; a frame holds at most %d".formatted(what, payload.length, Frames.MAX_PAYLOAD));
        }
        pending.put(id, new Pending(what, future));
        future.whenComplete((r, e) -> pending.remove(id));
        // The reader may have died between the first check and put(): it fails what it finds
        // in the map, so look again now that this request is in it.
        dead = closedBy;
        if (dead != null) {
            future.completeExceptionally(new AgentDisconnectedException(what + " failed: " + dead.getMessage(), dead));
            return future;
        }
        if (timeout != null) {
            CompletableFuture.delayedExecutor(timeout.toNanos(), TimeUnit.NANOSECONDS).execute(() -> future.completeExceptionally(
                    new AgentTimeoutException("%s: %s got no answer within %s".formatted(peer, what, timeout))));
        }
        try {
            synchronized (writeLock) {
                Frames.write(out, payload);
            }
        } catch (IOException e) {
            AgentDisconnectedException cause = new AgentDisconnectedException(peer + ": sending failed: " + e.getMessage(), e);
            disconnect(cause);
            future.completeExceptionally(new AgentDisconnectedException(what + " failed: " + cause.getMessage(), cause));
        }
        return future;
    }

    private static <T> T await(CompletableFuture<T> future) throws AgentException, InterruptedException {
        try {
            return future.get();
        } catch (ExecutionException e) {
            throw unwrap(e);
        } catch (InterruptedException e) {
            future.cancel(false);
            throw e;
        }
    }

    private static AgentException unwrap(ExecutionException e) {
        Throwable cause = e.getCause();
        if (cause instanceof AgentException a) {
            return a;
        }
        if (cause instanceof CancellationException) {
            return new AgentException("the request was cancelled", cause);
        }
        return new AgentException("unexpected failure: " + cause, cause);
    }

    private void readLoop() {
        Frames.Reader frames = new Frames.Reader(in);
        AgentException end;
        try {
            while (true) {
                byte[] frame = frames.next();
                if (frame == null) {
                    end = new AgentDisconnectedException(peer + " closed the connection (the agent exited or the guest is going down)", null);
                    break;
                }
                AgentMessage message;
                try {
                    message = AgentMessage.parseFrom(frame);
                } catch (InvalidProtocolBufferException e) {
                    end = new AgentProtocolException(peer + " sent an unparsable message: " + e.getMessage(), e);
                    break;
                }
                dispatch(message);
            }
        } catch (AgentException e) {
            end = e;
        } catch (IOException e) {
            end = new AgentDisconnectedException(peer + ": connection lost: " + e.getMessage(), e);
        } catch (RuntimeException e) {
            end = new AgentProtocolException(peer + ": cannot handle a message: " + e, e);
        }
        disconnect(end);
    }

    private void dispatch(AgentMessage m) {
        if (m.getId() != 0) {
            Pending p = pending.remove(m.getId());
            if (p == null) {
                return; // answered after its timeout or cancellation
            }
            if (m.hasError()) {
                p.future().completeExceptionally(new AgentErrorException(p.what(), m.getError().getCode(), m.getError().getMessage()));
            } else {
                p.future().complete(m);
            }
            return;
        }
        switch (m.getBodyCase()) {
            case OUTPUT -> {
                ProcessListener l = listeners.get(new ProcessKey(m.getOutput().getProcess().getContainerId(), m.getOutput().getProcess().getExecId()));
                if (l != null) {
                    notify(l, () -> l.onOutput(m.getOutput().getStream(), m.getOutput().getData().toByteArray()));
                }
            }
            case EXITED -> {
                ProcessListener l = listeners.remove(new ProcessKey(m.getExited().getProcess().getContainerId(), m.getExited().getProcess().getExecId()));
                if (l != null) {
                    notify(l, () -> l.onExit(m.getExited().getStatus()));
                }
            }
            case OOM -> notify(oomListener, () -> oomListener.accept(m.getOom()));
            default -> { } // an event kind newer than this client: ignored
        }
    }

    /** Runs a listener callback; a listener that throws is logged, never allowed to end the connection. */
    private void notify(Object listener, Runnable callback) {
        try {
            callback.run();
        } catch (RuntimeException e) {
            LOG.log(System.Logger.Level.WARNING, "listener " + listener + " of " + peer + " threw; event dropped", e);
        }
    }

    /** Ends the connection once: fails every pending call and tells every listener. */
    private void disconnect(AgentException cause) {
        synchronized (this) {
            if (closedBy != null) {
                return;
            }
            closedBy = cause;
        }
        try {
            transport.close();
        } catch (IOException | RuntimeException ignored) {
            // already gone
        }
        List<Pending> failed = new ArrayList<>(pending.values());
        pending.clear();
        for (Pending p : failed) {
            p.future().completeExceptionally(new AgentDisconnectedException(p.what() + " failed: " + cause.getMessage(), cause));
        }
        List<ProcessListener> orphaned = new ArrayList<>(listeners.values());
        listeners.clear();
        for (ProcessListener l : orphaned) {
            notify(l, () -> l.onDisconnected(cause));
        }
    }

    /** Closes the connection; pending calls fail. The guest's containers keep running. */
    @Override
    public void close() {
        disconnect(new AgentDisconnectedException(peer + ": the client was closed", null));
    }

    @Override
    public String toString() {
        return "AgentClient[" + peer + (closedBy == null ? "" : ", closed") + "]";
    }
}
