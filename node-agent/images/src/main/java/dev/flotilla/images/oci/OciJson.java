package dev.flotilla.images.oci;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.flotilla.images.Digest;
import dev.flotilla.images.ImageConfig;
import dev.flotilla.images.ImageException;
import dev.flotilla.images.UnsupportedImageException;

import java.io.IOException;
import java.util.ArrayList;
import java.util.Iterator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * Reads manifests, indexes and configurations from their JSON. The input comes from a registry, so
 * every field we rely on is checked and a bad document is reported with what is wrong, by name.
 */
public final class OciJson {
    private static final ObjectMapper JSON = new ObjectMapper();

    private OciJson() {
    }

    /** The media type a manifest or index declares in its body, or null when it declares none. */
    public static String declaredMediaType(byte[] body, String what) {
        JsonNode root = read(body, what);
        JsonNode type = root.get("mediaType");
        if (root.path("schemaVersion").asInt(-1) == 1) {
            throw new UnsupportedImageException(what + " is a Docker schema 1 manifest, which is deprecated and not supported; "
                    + "push the image again with a current client");
        }
        return type != null && type.isTextual() ? type.asText() : null;
    }

    /**
     * Tells an index from a manifest: the declared media type when there is one, else the shape
     * (OCI allows omitting mediaType; an index has "manifests", a manifest has "config").
     */
    public static boolean isIndex(byte[] body, String contentType, String what) {
        String declared = declaredMediaType(body, what);
        String type = declared != null ? declared : contentType;
        if (type != null && MediaTypes.INDEXES.contains(type)) {
            return true;
        }
        if (type != null && MediaTypes.MANIFESTS.contains(type)) {
            return false;
        }
        JsonNode root = read(body, what);
        if (root.has("manifests")) {
            return true;
        }
        if (root.has("config") && root.has("layers")) {
            return false;
        }
        throw new UnsupportedImageException(what + " has media type '" + type + "', which is neither an image index nor an image manifest");
    }

    public static List<Descriptor> parseIndex(byte[] body, String what) {
        JsonNode root = read(body, what);
        JsonNode manifests = root.get("manifests");
        if (manifests == null || !manifests.isArray()) {
            throw new ImageException(what + " is an image index without a 'manifests' array");
        }
        List<Descriptor> result = new ArrayList<>();
        for (int i = 0; i < manifests.size(); i++) {
            result.add(descriptor(manifests.get(i), what + " entry " + i));
        }
        return result;
    }

    public static ImageManifest parseManifest(byte[] body, String what) {
        JsonNode root = read(body, what);
        String mediaType = text(root, "mediaType", MediaTypes.OCI_MANIFEST);
        JsonNode config = root.get("config");
        JsonNode layers = root.get("layers");
        if (config == null || layers == null || !layers.isArray()) {
            throw new ImageException(what + " lacks its 'config' descriptor or 'layers' array");
        }
        Descriptor configDescriptor = descriptor(config, what + " config");
        if (!MediaTypes.CONFIGS.contains(configDescriptor.mediaType())) {
            throw new UnsupportedImageException(what + " has config media type '" + configDescriptor.mediaType()
                    + "', which is not a container image configuration (an artifact, not a runnable image?)");
        }
        List<Descriptor> layerDescriptors = new ArrayList<>();
        for (int i = 0; i < layers.size(); i++) {
            Descriptor layer = descriptor(layers.get(i), what + " layer " + i);
            try {
                MediaTypes.layerCompression(layer.mediaType());
            } catch (IllegalArgumentException e) {
                throw new UnsupportedImageException(what + " layer " + i + " (" + layer.digest() + "): " + e.getMessage());
            }
            layerDescriptors.add(layer);
        }
        return new ImageManifest(mediaType, configDescriptor, layerDescriptors);
    }

    public static ConfigBlob parseConfig(byte[] body, String what) {
        JsonNode root = read(body, what);
        JsonNode rootfs = root.path("rootfs");
        if (!"layers".equals(rootfs.path("type").asText())) {
            throw new ImageException(what + " has no rootfs of type 'layers'");
        }
        List<Digest> diffIds = new ArrayList<>();
        for (JsonNode id : rootfs.path("diff_ids")) {
            diffIds.add(digest(id.asText(), what + " diff_id"));
        }
        JsonNode c = root.path("config");
        Map<String, String> labels = new LinkedHashMap<>();
        for (Iterator<Map.Entry<String, JsonNode>> it = c.path("Labels").properties().iterator(); it.hasNext(); ) {
            Map.Entry<String, JsonNode> label = it.next();
            labels.put(label.getKey(), label.getValue().asText());
        }
        List<String> ports = new ArrayList<>();
        c.path("ExposedPorts").fieldNames().forEachRemaining(ports::add);
        ImageConfig config = new ImageConfig(strings(c, "Entrypoint", what), strings(c, "Cmd", what), strings(c, "Env", what),
                text(c, "WorkingDir", ""), text(c, "User", ""), ports, labels, text(c, "StopSignal", ""));
        return new ConfigBlob(text(root, "os", ""), text(root, "architecture", ""), config, diffIds);
    }

    private static List<String> strings(JsonNode parent, String field, String what) {
        JsonNode node = parent.get(field);
        List<String> result = new ArrayList<>();
        if (node == null || node.isNull()) {
            return result;
        }
        if (!node.isArray()) {
            throw new ImageException(what + " field " + field + " is not an array of strings");
        }
        for (JsonNode item : node) {
            if (!item.isTextual()) {
                throw new ImageException(what + " field " + field + " holds a non-string " + item);
            }
            result.add(item.asText());
        }
        return result;
    }

    private static Descriptor descriptor(JsonNode node, String what) {
        if (node == null || !node.isObject()) {
            throw new ImageException(what + " is not a descriptor object");
        }
        String mediaType = text(node, "mediaType", null);
        if (mediaType == null) {
            throw new ImageException(what + " has no mediaType");
        }
        JsonNode size = node.get("size");
        if (size == null || !size.canConvertToLong() || size.asLong() < 0) {
            throw new ImageException(what + " has no valid size");
        }
        Platform platform = null;
        JsonNode p = node.get("platform");
        if (p != null && p.isObject()) {
            platform = new Platform(text(p, "os", ""), text(p, "architecture", ""), text(p, "variant", null));
        }
        return new Descriptor(mediaType, digest(text(node, "digest", null), what), size.asLong(), platform);
    }

    private static Digest digest(String text, String what) {
        try {
            return Digest.parse(text);
        } catch (IllegalArgumentException e) {
            throw new ImageException(what + " has a bad digest: " + e.getMessage());
        }
    }

    private static String text(JsonNode node, String field, String fallback) {
        JsonNode value = node.get(field);
        return value != null && value.isTextual() ? value.asText() : fallback;
    }

    private static JsonNode read(byte[] body, String what) {
        try {
            JsonNode root = JSON.readTree(body);
            if (root == null || !root.isObject()) {
                throw new ImageException(what + " is not a JSON object");
            }
            return root;
        } catch (JsonProcessingException e) {
            throw new ImageException(what + " is not valid JSON: " + e.getOriginalMessage());
        } catch (IOException e) {
            throw new ImageException(what + " could not be read: " + e.getMessage(), e);
        }
    }

    /** Serialises small records of our own (ref files). */
    public static byte[] write(Object value) {
        try {
            return JSON.writerWithDefaultPrettyPrinter().writeValueAsBytes(value);
        } catch (JsonProcessingException e) {
            throw new IllegalStateException("cannot serialise " + value, e);
        }
    }

    public static <T> T read(byte[] body, Class<T> type, String what) {
        try {
            return JSON.readValue(body, type);
        } catch (IOException e) {
            throw new ImageException(what + " is not valid: " + e.getMessage(), e);
        }
    }
}
