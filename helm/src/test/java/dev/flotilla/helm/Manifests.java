package dev.flotilla.helm;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.dataformat.yaml.YAMLFactory;
import io.fabric8.kubernetes.api.model.GenericKubernetesResource;
import io.fabric8.kubernetes.api.model.HasMetadata;
import io.fabric8.kubernetes.api.model.KubernetesResource;

import java.io.IOException;
import java.lang.reflect.InvocationTargetException;
import java.lang.reflect.Method;
import java.lang.reflect.Modifier;
import java.util.ArrayList;
import java.util.Collection;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/** Rendered chart output: split into documents, parsed with the fabric8 Kubernetes model. */
final class Manifests {
    private static final ObjectMapper YAML = new ObjectMapper(new YAMLFactory());
    private static final Pattern DOCUMENT_SEPARATOR = Pattern.compile("(?m)^---[ \\t]*$");
    private static final Pattern GENERATED_KEYS = Pattern.compile("flotilla\\.dev/generated-keys: \"([^\"]*)\"");

    private Manifests() {
    }

    /** The non-empty YAML documents of a rendering (helm writes a "# Source:" comment into each). */
    static List<String> documents(String rendered) {
        List<String> documents = new ArrayList<>();
        for (String document : DOCUMENT_SEPARATOR.split(rendered)) {
            boolean onlyComments = document.lines().map(String::strip).allMatch(l -> l.isEmpty() || l.startsWith("#"));
            if (!onlyComments) {
                documents.add(document);
            }
        }
        return documents;
    }

    /** Every object, deserialized by fabric8 into its model class (GenericKubernetesResource when it has none). */
    static List<HasMetadata> parse(String rendered) {
        List<HasMetadata> objects = new ArrayList<>();
        for (String document : documents(rendered)) {
            try {
                KubernetesResource resource = YAML.readValue(document, KubernetesResource.class);
                if (!(resource instanceof HasMetadata object)) {
                    throw new AssertionError("not a Kubernetes object: " + document);
                }
                objects.add(object);
            } catch (IOException e) {
                throw new AssertionError("fabric8 cannot parse a rendered document: " + e.getMessage() + "\n" + document, e);
            }
        }
        return objects;
    }

    static <T extends HasMetadata> List<T> ofType(List<HasMetadata> objects, Class<T> type) {
        return objects.stream().filter(type::isInstance).map(type::cast).toList();
    }

    static <T extends HasMetadata> T one(List<HasMetadata> objects, Class<T> type) {
        List<T> found = ofType(objects, type);
        if (found.size() != 1) {
            throw new AssertionError("expected one " + type.getSimpleName() + ", found " + found.size());
        }
        return found.getFirst();
    }

    static Optional<GenericKubernetesResource> generic(List<HasMetadata> objects, String kind) {
        return ofType(objects, GenericKubernetesResource.class).stream().filter(g -> kind.equals(g.getKind())).findFirst();
    }

    /**
     * Fields the model did not know ("readinesProbe", a misplaced key): fabric8 keeps them in additionalProperties
     * instead of failing, so this walks the object graph and lists them with their paths.
     */
    static List<String> unknownFields(Object model) {
        List<String> found = new ArrayList<>();
        walk(model, model.getClass().getSimpleName(), found);
        return found;
    }

    private static void walk(Object value, String path, List<String> found) {
        if (value == null) {
            return;
        }
        if (value instanceof Collection<?> collection) {
            int i = 0;
            for (Object element : collection) {
                walk(element, path + "[" + i++ + "]", found);
            }
            return;
        }
        if (value instanceof Map<?, ?> map) {
            map.forEach((key, element) -> walk(element, path + "[" + key + "]", found));
            return;
        }
        if (!value.getClass().getPackageName().startsWith("io.fabric8.kubernetes.api.model")) {
            return;
        }
        for (Method method : value.getClass().getMethods()) {
            if (method.getParameterCount() != 0 || Modifier.isStatic(method.getModifiers())
                    || method.getDeclaringClass() == Object.class || !method.getName().startsWith("get")) {
                continue;
            }
            Object child;
            try {
                child = method.invoke(value);
            } catch (IllegalAccessException | InvocationTargetException e) {
                continue;
            }
            String name = method.getName().substring(3);
            if (name.equals("AdditionalProperties")) {
                if (child instanceof Map<?, ?> extra && !extra.isEmpty()) {
                    found.add(path + ": " + extra.keySet());
                }
            } else {
                walk(child, path + "." + Character.toLowerCase(name.charAt(0)) + name.substring(1), found);
            }
        }
    }

    /**
     * The rendering with the values of generated secret keys (listed in the flotilla.dev/generated-keys annotation)
     * replaced by a placeholder: they are random by design, everything else must be reproducible.
     */
    static String redactGenerated(String rendered) {
        StringBuilder out = new StringBuilder();
        String[] parts = DOCUMENT_SEPARATOR.split(rendered, -1);
        for (int i = 0; i < parts.length; i++) {
            String document = parts[i];
            Matcher generated = GENERATED_KEYS.matcher(document);
            if (generated.find()) {
                for (String key : generated.group(1).split(",")) {
                    document = document.replaceAll("(?m)^(  " + Pattern.quote(key) + ": )\"[^\"]*\"$", "$1\"<generated>\"");
                }
            }
            out.append(i == 0 ? "" : "---").append(document);
        }
        return out.toString();
    }
}
