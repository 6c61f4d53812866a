package dev.flotilla.agent.client;

import org.junit.jupiter.api.Test;

import java.io.ByteArrayInputStream;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.util.Random;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

class FramesTest {

    static Frames.Reader reader(byte[] bytes) {
        return new Frames.Reader(new ByteArrayInputStream(bytes));
    }

    @Test
    void write_thenRead_roundTripsAndEndsCleanly() throws IOException {
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        Frames.write(out, new byte[] {1, 2, 3});
        Frames.write(out, new byte[Frames.MAX_PAYLOAD]);
        Frames.Reader r = reader(out.toByteArray());
        assertArrayEquals(new byte[] {1, 2, 3}, r.next());
        assertArrayEquals(new byte[Frames.MAX_PAYLOAD], r.next());
        assertNull(r.next());
    }

    @Test
    void read_lengthOverMaximum_rejectedWithoutAllocating() {
        AgentProtocolException e = assertThrows(AgentProtocolException.class, () -> reader(new byte[] {0x7f, -1, -1, -1}).next());
        assertTrue(e.getMessage().contains("at most 131072"), e.getMessage());
    }

    @Test
    void read_zeroLength_rejected() {
        assertThrows(AgentProtocolException.class, () -> reader(new byte[] {0, 0, 0, 0}).next());
    }

    @Test
    void read_streamEndsInsideHeader_rejected() {
        AgentProtocolException e = assertThrows(AgentProtocolException.class, () -> reader(new byte[] {0, 0}).next());
        assertTrue(e.getMessage().contains("inside a frame header"), e.getMessage());
    }

    @Test
    void read_streamEndsInsidePayload_rejectedSayingHowMuchCame() {
        AgentProtocolException e = assertThrows(AgentProtocolException.class, () -> reader(new byte[] {0, 0, 0, 5, 1, 2}).next());
        assertTrue(e.getMessage().contains("2 of 5 bytes"), e.getMessage());
    }

    @Test
    void write_emptyOrOversizedPayload_refused() {
        assertThrows(IllegalArgumentException.class, () -> Frames.write(new ByteArrayOutputStream(), new byte[0]));
        assertThrows(IllegalArgumentException.class, () -> Frames.write(new ByteArrayOutputStream(), new byte[Frames.MAX_PAYLOAD + 1]));
    }

    @Test
    void read_randomStreams_onlyFramesCleanEndOrProtocolErrors() {
        Random random = new Random(4);
        for (int round = 0; round < 5_000; round++) {
            byte[] bytes = new byte[random.nextInt(64)];
            random.nextBytes(bytes);
            if (random.nextBoolean() && bytes.length >= 4) {
                bytes[0] = 0; // plausible lengths too, not only huge ones
                bytes[1] = 0;
            }
            Frames.Reader r = reader(bytes);
            try {
                while (r.next() != null) {
                    // keep reading
                }
            } catch (AgentProtocolException expected) {
                // the only failure allowed
            } catch (Throwable t) {
                throw new AssertionError("input " + java.util.HexFormat.of().formatHex(bytes) + " threw " + t, t);
            }
        }
    }
}
