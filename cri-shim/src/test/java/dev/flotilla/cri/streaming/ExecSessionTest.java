package dev.flotilla.cri.streaming;

import org.junit.jupiter.api.Test;

import java.util.List;

import static org.junit.jupiter.api.Assertions.assertDoesNotThrow;

/** The client's terminal sizes are data from the network: malformed ones are ignored, never thrown on the event loop. */
class ExecSessionTest {
    @Test
    void resize_withNumbersTooLongForALong_isIgnored() {
        ExecSession session = new ExecSession(output -> null, new ExecSession.Streams(true, true, false, true),
                "exec in container c1", List.of("sh"));

        assertDoesNotThrow(() -> session.resize("{\"Width\":99999999999999999999999999,\"Height\":24}"));
        assertDoesNotThrow(() -> session.resize("not json at all"));
    }
}
