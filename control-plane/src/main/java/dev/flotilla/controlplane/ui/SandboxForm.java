package dev.flotilla.controlplane.ui;

import io.quarkus.qute.TemplateData;
import jakarta.ws.rs.FormParam;

import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * The create-sandbox form as typed, kept to show it again with errors. {@link #toRequestBody} turns it into the
 * JSON body the API takes, leaving every judgement about values to the API's own validation.
 */
@TemplateData
public class SandboxForm {
    @FormParam("name")
    public String name = "";
    @FormParam("image")
    public String image = "";
    /** One argument per line. */
    @FormParam("command")
    public String command = "";
    @FormParam("vcpus")
    public String vcpus = "1";
    @FormParam("memoryMiB")
    public String memoryMiB = "128";
    /** key=value pairs, one per line or comma-separated; the same for nodeSelector and antiAffinity. */
    @FormParam("labels")
    public String labels = "";
    @FormParam("nodeSelector")
    public String nodeSelector = "";
    /** One per line: key=value:Effect (Equal), key:Effect or key (Exists), * (tolerate everything). */
    @FormParam("tolerations")
    public String tolerations = "";
    @FormParam("antiAffinity")
    public String antiAffinity = "";
    @FormParam("restartPolicy")
    public String restartPolicy = "ALWAYS";

    /** A line of the form that cannot become part of a request body. */
    public record LineError(String field, String message) {
    }

    /** The API request body; lines that are not key=value are reported in {@code errors} instead. */
    public Map<String, Object> toRequestBody(List<LineError> errors) {
        Map<String, Object> body = new LinkedHashMap<>();
        body.put("name", blankToNull(name));
        body.put("image", blankToNull(image));
        List<String> arguments = lines(command);
        if (!arguments.isEmpty()) {
            body.put("command", arguments);
        }
        body.put("vcpus", blankToNull(vcpus));
        body.put("memoryMiB", blankToNull(memoryMiB));
        putPairs(body, "labels", labels, errors);
        putPairs(body, "nodeSelector", nodeSelector, errors);
        putPairs(body, "antiAffinity", antiAffinity, errors);
        List<Map<String, Object>> parsed = new ArrayList<>();
        for (String line : lines(tolerations)) {
            parsed.add(toleration(line));
        }
        if (!parsed.isEmpty()) {
            body.put("tolerations", parsed);
        }
        if (restartPolicy != null && !restartPolicy.isBlank()) {
            body.put("restartPolicy", restartPolicy.trim());
        }
        return body;
    }

    private static Map<String, Object> toleration(String line) {
        Map<String, Object> toleration = new LinkedHashMap<>();
        if (line.equals("*")) {
            toleration.put("operator", "Exists");
            return toleration;
        }
        String rest = line;
        int colon = rest.lastIndexOf(':');
        if (colon >= 0) {
            toleration.put("effect", rest.substring(colon + 1).trim());
            rest = rest.substring(0, colon);
        }
        int equals = rest.indexOf('=');
        if (equals >= 0) {
            toleration.put("key", rest.substring(0, equals).trim());
            toleration.put("operator", "Equal");
            toleration.put("value", rest.substring(equals + 1).trim());
        } else {
            toleration.put("key", rest.trim());
            toleration.put("operator", "Exists");
        }
        return toleration;
    }

    private static void putPairs(Map<String, Object> body, String field, String text, List<LineError> errors) {
        Map<String, String> pairs = new LinkedHashMap<>();
        for (String line : text == null ? List.<String>of() : List.of(text.split("[,\\n]"))) {
            String pair = line.trim();
            if (pair.isEmpty()) {
                continue;
            }
            int equals = pair.indexOf('=');
            if (equals <= 0) {
                errors.add(new LineError(field, "'" + pair + "' must be written key=value"));
                continue;
            }
            pairs.put(pair.substring(0, equals).trim(), pair.substring(equals + 1).trim());
        }
        if (!pairs.isEmpty()) {
            body.put(field, pairs);
        }
    }

    private static List<String> lines(String text) {
        List<String> lines = new ArrayList<>();
        if (text != null) {
            for (String line : text.split("\\R")) {
                if (!line.isBlank()) {
                    lines.add(line.trim());
                }
            }
        }
        return lines;
    }

    private static String blankToNull(String value) {
        return value == null || value.isBlank() ? null : value.trim();
    }
}
