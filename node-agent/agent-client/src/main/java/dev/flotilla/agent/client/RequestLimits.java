package dev.flotilla.agent.client;

import com.google.protobuf.ByteString;
import com.google.protobuf.Descriptors.FieldDescriptor;
import com.google.protobuf.Message;

import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStream;
import java.io.InputStreamReader;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.util.HashMap;
import java.util.List;
import java.util.Map;

/**
 * The bounds the guest agent decodes into (nanopb's {@code agent.options}, the same file the
 * agent is built with, packaged next to the generated classes). A request that exceeds one
 * would be refused by the agent's decoder, which can only drop the connection; checked here, it
 * fails on the host with a sentence naming the field.
 */
public final class RequestLimits {
    static final String RESOURCE = "/dev/flotilla/agent/protocol/agent.options";

    /** max_size (a string's bytes including nanopb's NUL, or a bytes field's length) and max_count; 0 = unbounded. */
    record Bound(int maxSize, int maxCount) {}

    private static final RequestLimits AGENT = load();

    private final Map<String, Bound> bounds;

    RequestLimits(Map<String, Bound> bounds) {
        this.bounds = Map.copyOf(bounds);
    }

    /** The limits of the agent this client is built for. */
    public static RequestLimits agent() {
        return AGENT;
    }

    static RequestLimits load() {
        try (InputStream in = RequestLimits.class.getResourceAsStream(RESOURCE)) {
            if (in == null) {
                throw new IllegalStateException(RESOURCE + " is missing from the classpath (the build copies guest/agent/proto/agent.options)");
            }
            return parse(new String(in.readAllBytes(), StandardCharsets.UTF_8));
        } catch (IOException e) {
            throw new UncheckedIOException("cannot read " + RESOURCE, e);
        }
    }

    /** Parses nanopb options lines: {@code full.field.name max_size:N max_count:M}; # starts a comment. */
    static RequestLimits parse(String text) {
        Map<String, Bound> bounds = new HashMap<>();
        try (BufferedReader r = new BufferedReader(new java.io.StringReader(text))) {
            String line;
            while ((line = r.readLine()) != null) {
                line = line.strip();
                if (line.isEmpty() || line.startsWith("#")) {
                    continue;
                }
                String[] parts = line.split("\\s+");
                int size = 0;
                int count = 0;
                for (int i = 1; i < parts.length; i++) {
                    if (parts[i].startsWith("max_size:")) {
                        size = Integer.parseInt(parts[i].substring("max_size:".length()));
                    } else if (parts[i].startsWith("max_count:")) {
                        count = Integer.parseInt(parts[i].substring("max_count:".length()));
                    }
                }
                bounds.put(parts[0], new Bound(size, count));
            }
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
        return new RequestLimits(bounds);
    }

    Bound bound(String fullFieldName) {
        return bounds.get(fullFieldName);
    }

    /** Throws IllegalArgumentException naming the first field that exceeds the agent's bounds. */
    public void check(Message message) {
        walk(message, message.getDescriptorForType().getName());
    }

    private void walk(Message message, String path) {
        for (Map.Entry<FieldDescriptor, Object> e : message.getAllFields().entrySet()) {
            FieldDescriptor f = e.getKey();
            String fieldPath = path + "." + f.getName();
            Bound b = bounds.get(f.getFullName());
            if (f.isRepeated()) {
                List<?> values = (List<?>) e.getValue();
                if (b != null && b.maxCount() > 0 && values.size() > b.maxCount()) {
                    throw new IllegalArgumentException("%s has %d entries; the guest agent accepts at most %d"
                            .formatted(fieldPath, values.size(), b.maxCount()));
                }
                for (int i = 0; i < values.size(); i++) {
                    value(f, values.get(i), fieldPath + "[" + i + "]", b);
                }
            } else {
                value(f, e.getValue(), fieldPath, b);
            }
        }
    }

    private void value(FieldDescriptor f, Object value, String path, Bound b) {
        switch (f.getJavaType()) {
            case STRING -> {
                String s = (String) value;
                if (s.indexOf('\0') >= 0) {
                    throw new IllegalArgumentException(path + " contains a NUL character, which the guest agent's C strings cannot hold");
                }
                int bytes = s.getBytes(StandardCharsets.UTF_8).length;
                if (b != null && b.maxSize() > 0 && bytes > b.maxSize() - 1) {
                    throw new IllegalArgumentException("%s is %d bytes (UTF-8); the guest agent accepts at most %d"
                            .formatted(path, bytes, b.maxSize() - 1));
                }
            }
            case BYTE_STRING -> {
                int length = ((ByteString) value).size();
                if (b != null && b.maxSize() > 0 && length > b.maxSize()) {
                    throw new IllegalArgumentException("%s is %d bytes; the guest agent accepts at most %d".formatted(path, length, b.maxSize()));
                }
            }
            case MESSAGE -> walk((Message) value, path);
            default -> { }
        }
    }
}
