package dev.flotilla.node.console;

import org.junit.jupiter.api.Test;

import java.io.ByteArrayOutputStream;
import java.nio.charset.StandardCharsets;

import static org.junit.jupiter.api.Assertions.assertEquals;

class ConsoleBufferTest {

    private static byte[] ascii(String s) {
        return s.getBytes(StandardCharsets.US_ASCII);
    }

    @Test
    void snapshot_belowCapacity_keepsEverything() {
        ConsoleBuffer b = new ConsoleBuffer(1024);
        b.write(ascii("hello "), 0, 6);
        b.write(ascii("world"), 0, 5);
        assertEquals("hello world", new String(b.snapshot(), StandardCharsets.US_ASCII));
    }

    @Test
    void snapshot_pastCapacity_keepsTheNewestBytes() {
        ConsoleBuffer b = new ConsoleBuffer(512);
        for (int i = 0; i < 100; i++) {
            b.write(ascii(String.format("%09d\n", i)), 0, 10);
        }
        byte[] kept = b.snapshot();
        assertEquals(512, kept.length);
        assertEquals(1000, b.totalBytes());
        String text = new String(kept, StandardCharsets.US_ASCII);
        assertEquals("000000099\n", text.substring(text.length() - 10));
    }

    @Test
    void subscribe_getsBacklogThenLiveWritesOnce() {
        ConsoleBuffer b = new ConsoleBuffer(1024);
        b.write(ascii("before "), 0, 7);
        ByteArrayOutputStream seen = new ByteArrayOutputStream();
        Runnable cancel = b.subscribe(seen::writeBytes);
        b.write(ascii("after"), 0, 5);
        cancel.run();
        b.write(ascii(" gone"), 0, 5);
        assertEquals("before after", seen.toString(StandardCharsets.US_ASCII));
    }
}
