package dev.flotilla.images.registry;

import java.util.LinkedHashMap;
import java.util.Locale;
import java.util.Map;

/**
 * One {@code WWW-Authenticate} challenge (RFC 7235): a scheme and its parameters, e.g.
 * {@code Bearer realm="https://auth.example/token",service="registry.example",scope="repository:a/b:pull"}.
 *
 * @param scheme     lower-cased scheme, {@code bearer} or {@code basic}
 * @param parameters auth-params, names lower-cased, values unquoted
 */
public record AuthChallenge(String scheme, Map<String, String> parameters) {
    public AuthChallenge {
        parameters = Map.copyOf(parameters);
    }

    /** Parses the first challenge of a header value; throws IllegalArgumentException when it has none. */
    public static AuthChallenge parse(String header) {
        if (header == null || header.isBlank()) {
            throw new IllegalArgumentException("the registry answered 401 without a WWW-Authenticate challenge");
        }
        String text = header.strip();
        int space = text.indexOf(' ');
        String scheme = (space < 0 ? text : text.substring(0, space)).toLowerCase(Locale.ROOT);
        Map<String, String> params = new LinkedHashMap<>();
        int i = space < 0 ? text.length() : space + 1;
        while (i < text.length()) {
            while (i < text.length() && (text.charAt(i) == ' ' || text.charAt(i) == ',')) {
                i++;
            }
            int eq = text.indexOf('=', i);
            if (eq < 0) {
                break;
            }
            String name = text.substring(i, eq).strip().toLowerCase(Locale.ROOT);
            i = eq + 1;
            StringBuilder value = new StringBuilder();
            if (i < text.length() && text.charAt(i) == '"') {
                i++;
                while (i < text.length() && text.charAt(i) != '"') {
                    char c = text.charAt(i++);
                    if (c == '\\' && i < text.length()) {
                        c = text.charAt(i++);
                    }
                    value.append(c);
                }
                i++;
            } else {
                while (i < text.length() && text.charAt(i) != ',') {
                    value.append(text.charAt(i++));
                }
            }
            if (name.contains(" ")) {
                // A second challenge ("..., Basic realm=x"): we use the first one only.
                break;
            }
            params.put(name, value.toString().strip());
        }
        return new AuthChallenge(scheme, params);
    }

    public String parameter(String name) {
        return parameters.get(name);
    }
}
