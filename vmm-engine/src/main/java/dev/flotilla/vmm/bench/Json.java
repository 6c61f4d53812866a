package dev.flotilla.vmm.bench;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Locale;
import java.util.Map;

/** Writes the benchmarks' figures (maps of strings, numbers, lists and maps) as JSON. */
final class Json {
    private Json() {}

    static void write(Path file, Map<String, ?> object) throws IOException {
        StringBuilder sb = new StringBuilder();
        value(sb, object, "");
        sb.append('\n');
        Path parent = file.toAbsolutePath().getParent();
        if (parent != null) {
            Files.createDirectories(parent);
        }
        Files.writeString(file, sb);
    }

    static String toJson(Object value) {
        StringBuilder sb = new StringBuilder();
        value(sb, value, "");
        return sb.toString();
    }

    private static void value(StringBuilder sb, Object v, String indent) {
        switch (v) {
            case null -> sb.append("null");
            case Map<?, ?> m -> {
                sb.append("{");
                String inner = indent + "  ";
                boolean first = true;
                for (Map.Entry<?, ?> e : m.entrySet()) {
                    sb.append(first ? "\n" : ",\n").append(inner);
                    string(sb, String.valueOf(e.getKey()));
                    sb.append(": ");
                    value(sb, e.getValue(), inner);
                    first = false;
                }
                sb.append(first ? "}" : "\n" + indent + "}");
            }
            case List<?> l -> {
                sb.append("[");
                for (int i = 0; i < l.size(); i++) {
                    sb.append(i == 0 ? "" : ", ");
                    value(sb, l.get(i), indent);
                }
                sb.append("]");
            }
            case Double d -> sb.append(d.isNaN() || d.isInfinite() ? "null" : String.format(Locale.ROOT, "%.3f", d));
            case Number n -> sb.append(n);
            case Boolean b -> sb.append(b);
            default -> string(sb, v.toString());
        }
    }

    private static void string(StringBuilder sb, String s) {
        sb.append('"');
        for (int i = 0; i < s.length(); i++) {
            char c = s.charAt(i);
            switch (c) {
                case '"' -> sb.append("\\\"");
                case '\\' -> sb.append("\\\\");
                case '\n' -> sb.append("\\n");
                case '\r' -> sb.append("\\r");
                case '\t' -> sb.append("\\t");
                default -> {
                    if (c < 0x20) {
                        sb.append(String.format("\\u%04x", (int) c));
                    } else {
                        sb.append(c);
                    }
                }
            }
        }
        sb.append('"');
    }
}
