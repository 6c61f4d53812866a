package dev.flotilla.containers;

import dev.flotilla.agent.client.AgentDisconnectedException;
import dev.flotilla.agent.client.AgentException;
import dev.flotilla.agent.protocol.ExitStatus;
import dev.flotilla.agent.protocol.Stream;
import org.junit.jupiter.api.Test;

import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertTrue;

class ContainerLogTest {

    static byte[] b(String s) {
        return s.getBytes(StandardCharsets.UTF_8);
    }

    static final class Recorder implements ContainerLog.Follower {
        final List<String> chunks = new ArrayList<>();
        ExitStatus status;
        AgentException cause;
        int ends;

        @Override
        public void onChunk(ContainerLog.Chunk chunk) {
            chunks.add(chunk.stream() + ":" + chunk.text());
        }

        @Override
        public void onEnd(ExitStatus status, AgentException cause) {
            this.status = status;
            this.cause = cause;
            ends++;
        }
    }

    @Test
    void text_perStream_keepsArrivalOrder() {
        ContainerLog log = new ContainerLog(1024);
        log.onOutput(Stream.STDOUT, b("a"));
        log.onOutput(Stream.STDERR, b("E"));
        log.onOutput(Stream.STDOUT, b("b"));
        assertEquals("aEb", log.text());
        assertEquals("ab", log.text(Stream.STDOUT));
        assertEquals("E", log.text(Stream.STDERR));
    }

    @Test
    void onOutput_overCap_dropsOldestAndCounts() {
        ContainerLog log = new ContainerLog(4);
        log.onOutput(Stream.STDOUT, b("123"));
        log.onOutput(Stream.STDOUT, b("45"));
        assertEquals("45", log.text());
        assertEquals(3, log.droppedBytes());
    }

    @Test
    void follow_running_getsBacklogThenLiveThenEnd() {
        ContainerLog log = new ContainerLog(1024);
        log.onOutput(Stream.STDOUT, b("old"));
        Recorder r = new Recorder();
        log.follow(r);
        log.onOutput(Stream.STDERR, b("new"));
        log.onExit(ExitStatus.newBuilder().setExitCode(2).build());
        assertEquals(List.of("STDOUT:old", "STDERR:new"), r.chunks);
        assertEquals(2, r.status.getExitCode());
        assertEquals(1, r.ends);
    }

    @Test
    void follow_ended_getsBacklogAndEndAtOnce() {
        ContainerLog log = new ContainerLog(1024);
        log.onOutput(Stream.STDOUT, b("x"));
        log.onExit(ExitStatus.newBuilder().setExitCode(0).build());
        Recorder r = new Recorder();
        log.follow(r);
        assertEquals(List.of("STDOUT:x"), r.chunks);
        assertEquals(0, r.status.getExitCode());
    }

    @Test
    void follow_agentLost_endCarriesTheCause() {
        ContainerLog log = new ContainerLog(1024);
        Recorder r = new Recorder();
        log.follow(r);
        AgentDisconnectedException cause = new AgentDisconnectedException("agent gone", null);
        log.onDisconnected(cause);
        assertNull(r.status);
        assertSame(cause, r.cause);
        assertTrue(log.exit().isCompletedExceptionally());
    }

    @Test
    void follow_stopHandle_noMoreChunks() {
        ContainerLog log = new ContainerLog(1024);
        Recorder r = new Recorder();
        log.follow(r).run();
        log.onOutput(Stream.STDOUT, b("late"));
        assertEquals(List.of(), r.chunks);
    }
}
