package dev.flotilla.containers.bench;

import java.io.IOException;
import java.net.ServerSocket;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.concurrent.TimeUnit;

/** Debian's docker-registry on a free 127.0.0.1 port, storage under a directory; images pushed with skopeo. */
public final class LoopbackRegistry implements AutoCloseable {
    private final Process process;
    private final String address;

    private LoopbackRegistry(Process process, String address) {
        this.process = process;
        this.address = address;
    }

    public static LoopbackRegistry start(Path dir) throws IOException, InterruptedException {
        Files.createDirectories(dir.resolve("storage"));
        int port;
        try (ServerSocket s = new ServerSocket(0)) {
            port = s.getLocalPort();
        }
        Path config = dir.resolve("config.yml");
        Files.writeString(config, """
                version: 0.1
                log:
                  level: warn
                storage:
                  filesystem:
                    rootdirectory: %s
                http:
                  addr: 127.0.0.1:%d
                """.formatted(dir.resolve("storage"), port));
        Path log = dir.resolve("registry.log");
        Process process = new ProcessBuilder("docker-registry", "serve", config.toString()).redirectErrorStream(true)
                .redirectOutput(log.toFile()).start();
        LoopbackRegistry registry = new LoopbackRegistry(process, "127.0.0.1:" + port);
        HttpClient http = HttpClient.newHttpClient();
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(60);
        while (System.nanoTime() < deadline) {
            if (!process.isAlive()) {
                throw new IOException("docker-registry exited with " + process.exitValue() + ": " + Files.readString(log));
            }
            try {
                if (http.send(HttpRequest.newBuilder(URI.create("http://" + registry.address + "/v2/")).build(),
                        HttpResponse.BodyHandlers.discarding()).statusCode() == 200) {
                    return registry;
                }
            } catch (IOException notYet) {
                // still starting
            }
            Thread.sleep(100);
        }
        registry.close();
        throw new IOException("docker-registry did not answer on " + registry.address + " within 60 s: " + Files.readString(log));
    }

    /** {@code 127.0.0.1:port}, as written in image references. */
    public String address() {
        return address;
    }

    /** Pushes tag {@code layoutTag} of an OCI layout as {@code repositoryAndTag}; answers the image reference. */
    public String push(Path layout, String layoutTag, String repositoryAndTag) throws IOException, InterruptedException {
        BusyboxImage.run(List.of("skopeo", "copy", "--quiet", "--dest-tls-verify=false",
                "oci:" + layout + ":" + layoutTag, "docker://" + address + "/" + repositoryAndTag));
        return address + "/" + repositoryAndTag;
    }

    @Override
    public void close() throws InterruptedException {
        process.destroy();
        if (!process.waitFor(10, TimeUnit.SECONDS)) {
            process.destroyForcibly();
        }
    }
}
