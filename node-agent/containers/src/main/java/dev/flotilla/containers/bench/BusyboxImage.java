package dev.flotilla.containers.bench;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.HexFormat;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.zip.GZIPOutputStream;

/**
 * Writes an OCI image layout (oci-layout, index.json, blobs/sha256) holding one image: a gzip layer with
 * busybox-static, a symlink per applet, {@code /etc/image-name} and empty system directories, all owned by root;
 * its config sets Entrypoint {@code /bin/sh -c}, the given Cmd, Env {@code PATH=/bin GREETING=hello},
 * WorkingDir {@code /srv} and User {@code 1000:1000}.
 */
public final class BusyboxImage {
    private BusyboxImage() {}

    /** Builds the layout under {@code layout} (a sibling {@code rootfs} directory is used to assemble the layer), tagged {@code tag}. */
    public static Path writeLayout(Path layout, String tag, String cmd) throws IOException, InterruptedException {
        Path root = layout.resolveSibling(layout.getFileName() + "-rootfs");
        Path bin = Files.createDirectories(root.resolve("bin"));
        for (String d : List.of("etc", "tmp", "proc", "sys", "dev", "srv")) {
            Files.createDirectories(root.resolve(d));
        }
        Files.copy(Path.of("/bin/busybox"), bin.resolve("busybox"));
        Files.writeString(root.resolve("etc/image-name"), "flotilla-e2e-hello\n");
        for (String applet : run(List.of("/bin/busybox", "--list")).split("\n")) {
            if (!applet.isBlank() && !applet.equals("busybox")) {
                Files.createSymbolicLink(bin.resolve(applet.strip()), Path.of("busybox"));
            }
        }
        Path tar = layout.resolveSibling(layout.getFileName() + "-layer.tar");
        run(List.of("tar", "--create", "--file", tar.toString(), "--directory", root.toString(), "--owner=0", "--group=0",
                "--numeric-owner", "--sort=name", "--format=posix", "."));
        byte[] layerTar = Files.readAllBytes(tar);
        Files.createDirectories(layout.resolve("blobs/sha256"));
        Files.writeString(layout.resolve("oci-layout"), "{\"imageLayoutVersion\":\"1.0.0\"}");
        ByteArrayOutputStream gz = new ByteArrayOutputStream();
        try (GZIPOutputStream out = new GZIPOutputStream(gz)) {
            out.write(layerTar);
        }
        byte[] layer = gz.toByteArray();
        String layerDigest = blob(layout, layer);
        byte[] config = """
                {"architecture":"amd64","os":"linux","config":{
                  "Entrypoint":["/bin/sh","-c"],"Cmd":[%s],
                  "Env":["PATH=/bin","GREETING=hello"],"WorkingDir":"/srv","User":"1000:1000"},
                 "rootfs":{"type":"layers","diff_ids":["sha256:%s"]}}""".formatted(jsonString(cmd), sha256(layerTar))
                .getBytes(StandardCharsets.UTF_8);
        String configDigest = blob(layout, config);
        byte[] manifest = """
                {"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json",
                 "config":{"mediaType":"application/vnd.oci.image.config.v1+json","digest":"sha256:%s","size":%d},
                 "layers":[{"mediaType":"application/vnd.oci.image.layer.v1.tar+gzip","digest":"sha256:%s","size":%d}]}"""
                .formatted(configDigest, config.length, layerDigest, layer.length).getBytes(StandardCharsets.UTF_8);
        String manifestDigest = blob(layout, manifest);
        Files.writeString(layout.resolve("index.json"), """
                {"schemaVersion":2,"mediaType":"application/vnd.oci.image.index.v1+json","manifests":[
                 {"mediaType":"application/vnd.oci.image.manifest.v1+json","digest":"sha256:%s","size":%d,
                  "annotations":{"org.opencontainers.image.ref.name":"%s"}}]}""".formatted(manifestDigest, manifest.length, tag));
        return layout;
    }

    static String jsonString(String s) {
        StringBuilder b = new StringBuilder("\"");
        for (char c : s.toCharArray()) {
            switch (c) {
                case '"' -> b.append("\\\"");
                case '\\' -> b.append("\\\\");
                case '\n' -> b.append("\\n");
                default -> {
                    if (c < 0x20) {
                        b.append("\\u%04x".formatted((int) c));
                    } else {
                        b.append(c);
                    }
                }
            }
        }
        return b.append('"').toString();
    }

    private static String blob(Path layout, byte[] content) throws IOException {
        String hex = sha256(content);
        Files.write(layout.resolve("blobs/sha256").resolve(hex), content);
        return hex;
    }

    static String sha256(byte[] content) {
        try {
            return HexFormat.of().formatHex(MessageDigest.getInstance("SHA-256").digest(content));
        } catch (NoSuchAlgorithmException e) {
            throw new IllegalStateException("this JVM has no SHA-256", e);
        }
    }

    static String run(List<String> command) throws IOException, InterruptedException {
        Process p = new ProcessBuilder(command).redirectErrorStream(true).start();
        String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
        if (!p.waitFor(120, TimeUnit.SECONDS) || p.exitValue() != 0) {
            throw new IOException(String.join(" ", command) + " failed: " + out);
        }
        return out;
    }
}
