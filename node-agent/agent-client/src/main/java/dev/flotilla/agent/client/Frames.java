package dev.flotilla.agent.client;

import java.io.EOFException;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;

/**
 * The protocol's framing (guest/agent/proto/agent.proto, guest/agent/frame.c): a 4-byte
 * big-endian length N, 1 &lt;= N &lt;= {@link #MAX_PAYLOAD}, then N bytes of one message.
 */
public final class Frames {
    /** Largest payload either side accepts; the same constant as FRAME_MAX_PAYLOAD in frame.h. */
    public static final int MAX_PAYLOAD = 131_072;
    public static final int HEADER = 4;

    private Frames() {}

    /** Writes one frame (header and payload in a single write). */
    public static void write(OutputStream out, byte[] payload) throws IOException {
        if (payload.length == 0 || payload.length > MAX_PAYLOAD) {
            throw new IllegalArgumentException("a frame carries 1.." + MAX_PAYLOAD + " bytes, not " + payload.length);
        }
        byte[] frame = new byte[HEADER + payload.length];
        frame[0] = (byte) (payload.length >>> 24);
        frame[1] = (byte) (payload.length >>> 16);
        frame[2] = (byte) (payload.length >>> 8);
        frame[3] = (byte) payload.length;
        System.arraycopy(payload, 0, frame, HEADER, payload.length);
        out.write(frame);
    }

    /** Reads frames from a byte stream. Not thread-safe: one reader thread owns it. */
    public static final class Reader {
        private final InputStream in;
        private final byte[] header = new byte[HEADER];

        public Reader(InputStream in) {
            this.in = in;
        }

        /**
         * The next frame's payload; null when the stream ended cleanly between frames. A stream
         * that ends inside a frame, or a length of 0 or over {@link #MAX_PAYLOAD}, is a
         * protocol error (nothing is allocated for an oversized length).
         */
        public byte[] next() throws IOException {
            int first = in.read();
            if (first < 0) {
                return null;
            }
            header[0] = (byte) first;
            readFully(header, 1, HEADER - 1, "a frame header");
            long length = ((header[0] & 0xffL) << 24) | ((header[1] & 0xff) << 16) | ((header[2] & 0xff) << 8) | (header[3] & 0xff);
            if (length == 0) {
                throw new AgentProtocolException("the peer sent an empty frame");
            }
            if (length > MAX_PAYLOAD) {
                throw new AgentProtocolException("the peer announced a %d-byte frame; the protocol allows at most %d".formatted(length, MAX_PAYLOAD));
            }
            byte[] payload = new byte[(int) length];
            readFully(payload, 0, payload.length, "a " + length + "-byte frame");
            return payload;
        }

        private void readFully(byte[] b, int off, int len, String what) throws IOException {
            int done = 0;
            while (done < len) {
                int n = in.read(b, off + done, len - done);
                if (n < 0) {
                    throw new AgentProtocolException("the connection ended inside " + what + " (" + done + " of " + len + " bytes read)",
                            new EOFException());
                }
                done += n;
            }
        }
    }
}
