package dev.flotilla.cri.logs;

import java.nio.charset.StandardCharsets;

/** The two output streams of a container, named as the CRI log format spells them. */
public enum LogStream {
    STDOUT("stdout"),
    STDERR("stderr");

    private final byte[] tag;

    LogStream(String tag) {
        this.tag = tag.getBytes(StandardCharsets.US_ASCII);
    }

    byte[] tag() {
        return tag;
    }
}
