package dev.flotilla.images.testsupport;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.flotilla.images.Digest;
import dev.flotilla.images.oci.MediaTypes;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.zip.GZIPOutputStream;

/**
 * Writes an OCI image layout (image-layout spec: oci-layout, index.json, blobs/sha256) with images
 * made of layer tars built in the test, for skopeo to push. Written here so the test controls every
 * byte (whiteouts, owners, hostile entries) instead of depending on an image builder.
 */
public final class OciLayout {
    private static final ObjectMapper JSON = new ObjectMapper();

    private final Path dir;
    private final ArrayNode tags = JSON.createArrayNode();

    public OciLayout(Path dir) throws IOException {
        this.dir = dir;
        Files.createDirectories(dir.resolve("blobs/sha256"));
        Files.writeString(dir.resolve("oci-layout"), "{\"imageLayoutVersion\":\"1.0.0\"}");
    }

    public Path dir() {
        return dir;
    }

    /** A gzip-compressed layer: its descriptor JSON and the digest of the uncompressed tar. */
    public record Layer(ObjectNode descriptor, Digest diffId) {
        public Digest digest() {
            return Digest.parse(descriptor.get("digest").asText());
        }
    }

    /** A written manifest. */
    public record Manifest(ObjectNode descriptor) {
        public Digest digest() {
            return Digest.parse(descriptor.get("digest").asText());
        }
    }

    public Layer layer(byte[] tar) throws IOException {
        ByteArrayOutputStream compressed = new ByteArrayOutputStream();
        try (GZIPOutputStream gzip = new GZIPOutputStream(compressed)) {
            gzip.write(tar);
        }
        return new Layer(blob(MediaTypes.OCI_LAYER_GZIP, compressed.toByteArray()), Digest.sha256(tar));
    }

    /** A zstd-compressed layer, compressed by the zstd command (not by the library we decode with). */
    public Layer zstdLayer(byte[] tar) throws IOException, InterruptedException {
        Process zstd = new ProcessBuilder("zstd", "-q", "-c").start();
        try (var in = zstd.getOutputStream()) {
            in.write(tar);
        }
        byte[] compressed = zstd.getInputStream().readAllBytes();
        if (zstd.waitFor() != 0) {
            throw new IOException("zstd failed: " + new String(zstd.getErrorStream().readAllBytes()));
        }
        return new Layer(blob(MediaTypes.OCI_LAYER_ZSTD, compressed), Digest.sha256(tar));
    }

    /** An image manifest for linux/{@code architecture} whose config runs {@code cmd}. */
    public Manifest image(String architecture, List<Layer> layers, List<String> cmd, Map<String, String> extra) throws IOException {
        ObjectNode config = JSON.createObjectNode();
        config.put("architecture", architecture);
        config.put("os", "linux");
        ObjectNode runtime = config.putObject("config");
        runtime.putArray("Entrypoint").add("/bin/sh").add("-c");
        ArrayNode cmdNode = runtime.putArray("Cmd");
        cmd.forEach(cmdNode::add);
        runtime.putArray("Env").add("PATH=/bin:/usr/bin").add("GREETING=hello");
        runtime.put("WorkingDir", "/srv");
        runtime.put("User", "1000:1000");
        runtime.putObject("ExposedPorts").putObject("8080/tcp");
        ObjectNode labels = runtime.putObject("Labels");
        extra.forEach(labels::put);
        ObjectNode rootfs = config.putObject("rootfs");
        rootfs.put("type", "layers");
        ArrayNode diffIds = rootfs.putArray("diff_ids");
        layers.forEach(layer -> diffIds.add(layer.diffId().toString()));

        ObjectNode manifest = JSON.createObjectNode();
        manifest.put("schemaVersion", 2);
        manifest.put("mediaType", MediaTypes.OCI_MANIFEST);
        manifest.set("config", blob(MediaTypes.OCI_CONFIG, JSON.writeValueAsBytes(config)));
        ArrayNode layerArray = manifest.putArray("layers");
        layers.forEach(layer -> layerArray.add(layer.descriptor()));
        ObjectNode descriptor = blob(MediaTypes.OCI_MANIFEST, JSON.writeValueAsBytes(manifest));
        descriptor.putObject("platform").put("architecture", architecture).put("os", "linux");
        return new Manifest(descriptor);
    }

    /** Tags a single manifest. */
    public void tag(String tag, Manifest manifest) {
        ObjectNode entry = manifest.descriptor().deepCopy();
        entry.putObject("annotations").put("org.opencontainers.image.ref.name", tag);
        tags.add(entry);
    }

    /** Tags an image index of several manifests. */
    public void tagIndex(String tag, List<Manifest> manifests) throws IOException {
        ObjectNode index = JSON.createObjectNode();
        index.put("schemaVersion", 2);
        index.put("mediaType", MediaTypes.OCI_INDEX);
        ArrayNode entries = index.putArray("manifests");
        manifests.forEach(m -> entries.add(m.descriptor()));
        ObjectNode descriptor = blob(MediaTypes.OCI_INDEX, JSON.writeValueAsBytes(index));
        descriptor.putObject("annotations").put("org.opencontainers.image.ref.name", tag);
        tags.add(descriptor);
    }

    /** Writes index.json; call after tagging. */
    public Path write() throws IOException {
        ObjectNode index = JSON.createObjectNode();
        index.put("schemaVersion", 2);
        index.put("mediaType", MediaTypes.OCI_INDEX);
        index.set("manifests", tags);
        Files.write(dir.resolve("index.json"), JSON.writeValueAsBytes(index));
        return dir;
    }

    private ObjectNode blob(String mediaType, byte[] content) {
        Digest digest = Digest.sha256(content);
        try {
            Files.write(dir.resolve("blobs/sha256").resolve(digest.hex()), content);
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
        ObjectNode descriptor = JSON.createObjectNode();
        descriptor.put("mediaType", mediaType);
        descriptor.put("digest", digest.toString());
        descriptor.put("size", content.length);
        return descriptor;
    }

    public static List<Layer> list(Layer... layers) {
        return new ArrayList<>(List.of(layers));
    }
}
