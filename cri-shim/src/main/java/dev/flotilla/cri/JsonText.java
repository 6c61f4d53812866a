package dev.flotilla.cri;

import java.util.Map;
import java.util.TreeMap;
import java.util.stream.Collectors;

/**
 * The little JSON the shim writes itself (Status info values, the exec streams' Kubernetes Status): quoted strings
 * and flat string maps. Everything larger is the node agent's, which has Jackson.
 */
public final class JsonText {
    private JsonText() {
    }

    /** A flat object of strings, keys in order. */
    public static String object(Map<String, String> values) {
        return new TreeMap<>(values).entrySet().stream()
                .map(e -> quote(e.getKey()) + ":" + quote(e.getValue()))
                .collect(Collectors.joining(",", "{", "}"));
    }

    /** A JSON string literal: quotes, backslashes and control characters escaped. */
    public static String quote(String s) {
        StringBuilder out = new StringBuilder(s.length() + 2).append('"');
        for (char c : s.toCharArray()) {
            switch (c) {
                case '"' -> out.append("\\\"");
                case '\\' -> out.append("\\\\");
                default -> {
                    if (c < 0x20) {
                        out.append(String.format("\\u%04x", (int) c));
                    } else {
                        out.append(c);
                    }
                }
            }
        }
        return out.append('"').toString();
    }
}
