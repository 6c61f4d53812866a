package dev.flotilla.controlplane.api;

import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.regex.Pattern;

/** Label syntax shared by sandboxes and nodes: Kubernetes-style keys and values. */
public final class Labels {
    /** Optional DNS prefix, then a name of alphanumerics, '-', '_', '.'. */
    public static final String KEY_PATTERN = "^([a-z0-9]([-a-z0-9.]{0,251}[a-z0-9])?/)?[A-Za-z0-9]([-A-Za-z0-9_.]{0,61}[A-Za-z0-9])?$";
    public static final String VALUE_PATTERN = "^([A-Za-z0-9]([-A-Za-z0-9_.]{0,61}[A-Za-z0-9])?)?$";
    private static final Pattern KEY = Pattern.compile(KEY_PATTERN);
    private static final Pattern VALUE = Pattern.compile(VALUE_PATTERN);

    private Labels() {
    }

    /** Parses repeated {@code label=key=value} query parameters into a selector. */
    public static Map<String, String> parseSelector(List<String> selectors) {
        Map<String, String> selector = new LinkedHashMap<>();
        for (String text : selectors) {
            int equals = text.indexOf('=');
            if (equals <= 0) {
                throw ApiException.badRequest("label", "must be key=value, got '" + text + "'");
            }
            String key = text.substring(0, equals);
            String value = text.substring(equals + 1);
            if (!KEY.matcher(key).matches() || !VALUE.matcher(value).matches()) {
                throw ApiException.badRequest("label", "'" + text + "' is not a valid label key=value");
            }
            selector.put(key, value);
        }
        return selector;
    }

    /** Checks a label map of a request body; returns the first problem or null. */
    public static String invalid(Map<String, String> labels) {
        if (labels == null) {
            return null;
        }
        if (labels.size() > 64) {
            return "has " + labels.size() + " entries, at most 64 are allowed";
        }
        for (Map.Entry<String, String> entry : labels.entrySet()) {
            if (entry.getKey() == null || !KEY.matcher(entry.getKey()).matches()) {
                return "key '" + entry.getKey() + "' is not a valid label key";
            }
            if (entry.getValue() == null || !VALUE.matcher(entry.getValue()).matches()) {
                return "value '" + entry.getValue() + "' of key '" + entry.getKey() + "' is not a valid label value";
            }
        }
        return null;
    }
}
