package dev.flotilla.agent.client;

import com.google.protobuf.ByteString;
import dev.flotilla.agent.protocol.AgentMessage;
import dev.flotilla.agent.protocol.Error;
import dev.flotilla.agent.protocol.ErrorCode;
import dev.flotilla.agent.protocol.ExitStatus;
import dev.flotilla.agent.protocol.HelloReply;
import dev.flotilla.agent.protocol.HostMessage;
import dev.flotilla.agent.protocol.Ok;
import dev.flotilla.agent.protocol.Output;
import dev.flotilla.agent.protocol.ProcessExited;
import dev.flotilla.agent.protocol.ProcessRef;
import dev.flotilla.agent.protocol.Process;
import dev.flotilla.agent.protocol.ProcessStarted;
import dev.flotilla.agent.protocol.Stats;
import dev.flotilla.agent.protocol.Stream;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.nio.channels.Channels;
import java.nio.channels.Pipe;
import java.time.Duration;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.TimeUnit;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * The client against a scripted peer on an in-memory pipe pair: the test plays the agent's side
 * of the wire (frames of real protobuf messages) to drive each behaviour deterministically. The
 * real agent is exercised by the e2e suite (tests/, GuestAgentE2E).
 */
class AgentClientTest {

    static final Duration SHORT = Duration.ofSeconds(5);

    /** The agent's end of the connection, driven by the test thread. */
    static final class Peer {
        final InputStream fromClient;
        final OutputStream toClient;
        final Frames.Reader frames;

        Peer(InputStream fromClient, OutputStream toClient) {
            this.fromClient = fromClient;
            this.toClient = toClient;
            this.frames = new Frames.Reader(fromClient);
        }

        HostMessage receive() throws IOException {
            byte[] f = frames.next();
            if (f == null) {
                throw new IOException("client closed");
            }
            return HostMessage.parseFrom(f);
        }

        void send(AgentMessage m) throws IOException {
            Frames.write(toClient, m.toByteArray());
        }

        void sendRaw(byte[] bytes) throws IOException {
            toClient.write(bytes);
        }

        void hangUp() throws IOException {
            toClient.close();
        }
    }

    Peer peer;
    AgentClient client;
    final BlockingQueue<Object> connectResult = new LinkedBlockingQueue<>();

    /** Pipes in both directions; the client connects on another thread while the test answers Hello. */
    void startClient(Duration timeout) throws IOException {
        Pipe toAgent = Pipe.open();
        Pipe toHost = Pipe.open();
        peer = new Peer(Channels.newInputStream(toAgent.source()), Channels.newOutputStream(toHost.sink()));
        InputStream in = Channels.newInputStream(toHost.source());
        OutputStream out = Channels.newOutputStream(toAgent.sink());
        Thread.ofVirtual().start(() -> {
            try {
                connectResult.add(AgentClient.open("test agent", in, out, () -> {
                    in.close();
                    out.close();
                }, timeout));
            } catch (Exception e) {
                connectResult.add(e);
            }
        });
    }

    AgentClient handshake() throws Exception {
        startClient(SHORT);
        HostMessage hello = peer.receive();
        assertEquals(1, hello.getHello().getProtocolVersion());
        peer.send(AgentMessage.newBuilder().setId(hello.getId())
                .setHello(HelloReply.newBuilder().setProtocolVersion(1).setAgentVersion("test")).build());
        Object r = connectResult.poll(5, TimeUnit.SECONDS);
        if (r instanceof Exception e) {
            throw e;
        }
        client = (AgentClient) r;
        return client;
    }

    @AfterEach
    void closeClient() {
        if (client != null) {
            client.close();
        }
    }

    static AgentMessage ok(long id) {
        return AgentMessage.newBuilder().setId(id).setOk(Ok.getDefaultInstance()).build();
    }

    @Test
    void connect_agentAnswersAnotherVersion_failsWithProtocolError() throws Exception {
        startClient(SHORT);
        HostMessage hello = peer.receive();
        peer.send(AgentMessage.newBuilder().setId(hello.getId()).setHello(HelloReply.newBuilder().setProtocolVersion(2)).build());
        Object r = connectResult.poll(5, TimeUnit.SECONDS);
        AgentProtocolException e = assertInstanceOf(AgentProtocolException.class, r);
        assertTrue(e.getMessage().contains("version 2"), e.getMessage());
    }

    @Test
    void connect_agentRefusesOurVersion_failsWithProtocolErrorQuotingAgent() throws Exception {
        startClient(SHORT);
        HostMessage hello = peer.receive();
        peer.send(AgentMessage.newBuilder().setId(hello.getId()).setError(Error.newBuilder()
                .setCode(ErrorCode.UNSUPPORTED_VERSION).setMessage("the agent speaks protocol version 3")).build());
        AgentProtocolException e = assertInstanceOf(AgentProtocolException.class, connectResult.poll(5, TimeUnit.SECONDS));
        assertTrue(e.getMessage().contains("the agent speaks protocol version 3"), e.getMessage());
    }

    @Test
    void connect_agentNeverAnswers_timesOut() throws Exception {
        startClient(Duration.ofMillis(300));
        peer.receive();
        assertInstanceOf(AgentTimeoutException.class, connectResult.poll(5, TimeUnit.SECONDS));
    }

    @Test
    void calls_answeredOutOfOrder_eachGetsItsOwnAnswer() throws Exception {
        handshake();
        CompletableFuture<Stats> a = CompletableFuture.supplyAsync(() -> call(() -> client.stats("a")));
        HostMessage first = peer.receive();
        CompletableFuture<Stats> b = CompletableFuture.supplyAsync(() -> call(() -> client.stats("b")));
        HostMessage second = peer.receive();
        HostMessage forA = first.getGetStats().getContainerId().equals("a") ? first : second;
        HostMessage forB = forA == first ? second : first;
        peer.send(AgentMessage.newBuilder().setId(forB.getId()).setStats(Stats.newBuilder().setMemoryCurrentBytes(2)).build());
        peer.send(AgentMessage.newBuilder().setId(forA.getId()).setStats(Stats.newBuilder().setMemoryCurrentBytes(1)).build());
        assertEquals(1, a.get(5, TimeUnit.SECONDS).getMemoryCurrentBytes());
        assertEquals(2, b.get(5, TimeUnit.SECONDS).getMemoryCurrentBytes());
    }

    interface Call<T> {
        T run() throws Exception;
    }

    static <T> T call(Call<T> c) {
        try {
            return c.run();
        } catch (Exception e) {
            throw new RuntimeException(e);
        }
    }

    @Test
    void call_agentError_raisedWithCodeAndRequestContext() throws Exception {
        handshake();
        CompletableFuture<Void> start = CompletableFuture.runAsync(() -> call(() -> {
            client.startContainer("web");
            return null;
        }));
        HostMessage m = peer.receive();
        peer.send(AgentMessage.newBuilder().setId(m.getId()).setError(Error.newBuilder()
                .setCode(ErrorCode.NOT_FOUND).setMessage("no container 'web'")).build());
        ExecutionException e = assertThrows(ExecutionException.class, () -> start.get(5, TimeUnit.SECONDS));
        AgentErrorException error = assertInstanceOf(AgentErrorException.class, e.getCause().getCause());
        assertEquals(ErrorCode.NOT_FOUND, error.code());
        assertTrue(error.getMessage().startsWith("StartContainer web failed in the guest agent (NOT_FOUND): no container 'web'"), error.getMessage());
    }

    @Test
    void call_noAnswer_timesOutAndConnectionStaysUsable() throws Exception {
        startClient(Duration.ofMillis(400));
        HostMessage hello = peer.receive();
        peer.send(AgentMessage.newBuilder().setId(hello.getId()).setHello(HelloReply.newBuilder().setProtocolVersion(1)).build());
        client = (AgentClient) connectResult.poll(5, TimeUnit.SECONDS);
        CompletableFuture<Void> slow = CompletableFuture.runAsync(() -> call(() -> {
            client.deleteContainer("x");
            return null;
        }));
        HostMessage ignored = peer.receive();
        ExecutionException e = assertThrows(ExecutionException.class, () -> slow.get(5, TimeUnit.SECONDS));
        assertInstanceOf(AgentTimeoutException.class, e.getCause().getCause());
        // The late answer is dropped; the next request still works.
        peer.send(ok(ignored.getId()));
        CompletableFuture<Void> next = CompletableFuture.runAsync(() -> call(() -> {
            client.deleteContainer("y");
            return null;
        }));
        peer.send(ok(peer.receive().getId()));
        next.get(5, TimeUnit.SECONDS);
        assertTrue(client.isConnected());
    }

    @Test
    void agentHangsUp_pendingCallsAndLaterCallsFailWithDisconnected() throws Exception {
        handshake();
        CompletableFuture<ExitStatus> waiting = client.waitAsync("c", "");
        peer.receive();
        CapturedOutput output = new CapturedOutput();
        CompletableFuture<Integer> exec = CompletableFuture.supplyAsync(() -> call(() -> client.exec("c", "e", Process.newBuilder().addArgs("sh").build(), output)));
        peer.receive();
        peer.hangUp();
        ExecutionException e = assertThrows(ExecutionException.class, () -> waiting.get(5, TimeUnit.SECONDS));
        AgentDisconnectedException d = assertInstanceOf(AgentDisconnectedException.class, e.getCause());
        assertTrue(d.getMessage().startsWith("Wait for container c failed: test agent closed the connection"), d.getMessage());
        assertThrows(ExecutionException.class, () -> exec.get(5, TimeUnit.SECONDS));
        assertFalse(client.isConnected());
        assertThrows(AgentDisconnectedException.class, () -> client.stats("c"));
    }

    @Test
    void agentSendsGarbage_connectionEndsWithProtocolError() throws Exception {
        handshake();
        CompletableFuture<ExitStatus> waiting = client.waitAsync("c", "");
        peer.receive();
        peer.sendRaw(new byte[] {0, 0, 0, 3, (byte) 0xff, (byte) 0xff, (byte) 0xff});
        ExecutionException e = assertThrows(ExecutionException.class, () -> waiting.get(5, TimeUnit.SECONDS));
        assertInstanceOf(AgentProtocolException.class, e.getCause().getCause());
        assertTrue(e.getCause().getMessage().contains("unparsable"), e.getCause().getMessage());
    }

    @Test
    void agentAnnouncesHugeFrame_connectionEndsWithProtocolError() throws Exception {
        handshake();
        CompletableFuture<ExitStatus> waiting = client.waitAsync("c", "");
        peer.receive();
        peer.sendRaw(new byte[] {0x40, 0, 0, 0});
        ExecutionException e = assertThrows(ExecutionException.class, () -> waiting.get(5, TimeUnit.SECONDS));
        assertInstanceOf(AgentProtocolException.class, e.getCause().getCause());
    }

    @Test
    void events_outputThenExit_reachTheProcessListenerInOrder() throws Exception {
        handshake();
        CapturedOutput output = new CapturedOutput();
        CompletableFuture<Integer> pid = CompletableFuture.supplyAsync(() -> call(() -> client.exec("c", "e1", Process.newBuilder().addArgs("echo").build(), output)));
        HostMessage exec = peer.receive();
        peer.send(AgentMessage.newBuilder().setId(exec.getId()).setStarted(ProcessStarted.newBuilder().setPid(42)).build());
        assertEquals(42, pid.get(5, TimeUnit.SECONDS));
        ProcessRef ref = ProcessRef.newBuilder().setContainerId("c").setExecId("e1").build();
        peer.send(AgentMessage.newBuilder().setOutput(Output.newBuilder().setProcess(ref).setStream(Stream.STDOUT)
                .setData(ByteString.copyFromUtf8("hello "))).build());
        peer.send(AgentMessage.newBuilder().setOutput(Output.newBuilder().setProcess(ref).setStream(Stream.STDERR)
                .setData(ByteString.copyFromUtf8("oops"))).build());
        peer.send(AgentMessage.newBuilder().setOutput(Output.newBuilder().setProcess(ref).setStream(Stream.STDOUT)
                .setData(ByteString.copyFromUtf8("world"))).build());
        peer.send(AgentMessage.newBuilder().setExited(ProcessExited.newBuilder().setProcess(ref)
                .setStatus(ExitStatus.newBuilder().setExitCode(3))).build());
        assertEquals(3, output.awaitExit(SHORT).getExitCode());
        assertEquals("hello world", output.stdout());
        assertEquals("oops", output.stderr());
    }

    @Test
    void listenerThrows_connectionSurvivesAndLaterEventsArrive() throws Exception {
        handshake();
        CapturedOutput second = new CapturedOutput();
        ProcessListener throwing = new ProcessListener() {
            @Override
            public void onOutput(Stream stream, byte[] data) {
                throw new IllegalStateException("listener bug");
            }
        };
        CompletableFuture<Integer> first = CompletableFuture.supplyAsync(() -> call(() -> client.exec("c", "bad", Process.newBuilder().addArgs("a").build(), throwing)));
        peer.send(AgentMessage.newBuilder().setId(peer.receive().getId()).setStarted(ProcessStarted.newBuilder().setPid(1)).build());
        first.get(5, TimeUnit.SECONDS);
        CompletableFuture<Integer> other = CompletableFuture.supplyAsync(() -> call(() -> client.exec("c", "good", Process.newBuilder().addArgs("a").build(), second)));
        peer.send(AgentMessage.newBuilder().setId(peer.receive().getId()).setStarted(ProcessStarted.newBuilder().setPid(2)).build());
        other.get(5, TimeUnit.SECONDS);
        peer.send(AgentMessage.newBuilder().setOutput(Output.newBuilder().setProcess(ProcessRef.newBuilder().setContainerId("c").setExecId("bad"))
                .setData(ByteString.copyFromUtf8("x"))).build());
        peer.send(AgentMessage.newBuilder().setExited(ProcessExited.newBuilder().setProcess(ProcessRef.newBuilder().setContainerId("c").setExecId("good"))
                .setStatus(ExitStatus.newBuilder().setExitCode(0))).build());
        assertEquals(0, second.awaitExit(SHORT).getExitCode());
        assertTrue(client.isConnected());
    }

    @Test
    void waitAsync_cancelled_lateAnswerIgnoredAndNoLeak() throws Exception {
        handshake();
        CompletableFuture<ExitStatus> waiting = client.waitAsync("c", "");
        HostMessage w = peer.receive();
        waiting.cancel(false);
        peer.send(AgentMessage.newBuilder().setId(w.getId()).setExit(ExitStatus.newBuilder().setExitCode(0)).build());
        // a following call is answered normally
        CompletableFuture<Stats> s = CompletableFuture.supplyAsync(() -> call(() -> client.stats("c")));
        peer.send(AgentMessage.newBuilder().setId(peer.receive().getId()).setStats(Stats.getDefaultInstance()).build());
        s.get(5, TimeUnit.SECONDS);
        assertTrue(waiting.isCancelled());
    }

    @Test
    void oversizedRequest_rejectedOnTheHostBeforeSending() throws Exception {
        handshake();
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
                () -> client.exec("c", "e", Process.newBuilder().addArgs("x".repeat(300)).build(), ProcessListener.NONE));
        assertTrue(e.getMessage().contains("args[0] is 300 bytes"), e.getMessage());
        assertTrue(client.isConnected());
    }

    @Test
    void writeStdin_largeData_splitIntoAgentSizedChunks() throws Exception {
        handshake();
        byte[] data = new byte[AgentClient.STDIN_CHUNK * 2 + 10];
        CompletableFuture<Void> write = CompletableFuture.runAsync(() -> call(() -> {
            client.writeStdin("c", "", data);
            return null;
        }));
        int total = 0;
        for (int i = 0; i < 3; i++) {
            HostMessage m = peer.receive();
            total += m.getWriteStdin().getData().size();
            assertTrue(m.getWriteStdin().getData().size() <= AgentClient.STDIN_CHUNK);
            peer.send(ok(m.getId()));
        }
        write.get(5, TimeUnit.SECONDS);
        assertEquals(data.length, total);
    }
}
