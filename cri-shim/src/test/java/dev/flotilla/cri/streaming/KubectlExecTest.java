package dev.flotilla.cri.streaming;

import dev.flotilla.cri.v1.ExecRequest;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.BufferedInputStream;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.InetAddress;
import java.net.ServerSocket;
import java.net.Socket;
import java.net.URI;
import java.net.URLDecoder;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

/**
 * kubectl itself as the client: {@code kubectl exec} talks to a stand-in for the API server and the kubelet
 * ({@link KubeletStandIn}: it answers the pod lookup, then does what the kubelet does with an exec, calls Exec and
 * relays the upgraded connection byte for byte to the URL it got), so the streaming server meets the real Go
 * client of both protocols: WebSocket (kubectl's default) and SPDY (what the API server speaks to kubelets).
 */
class KubectlExecTest {
    private static final Path KUBECTL = Path.of("/usr/bin/kubectl");
    private static StreamingServer server;
    private static KubeletStandIn kubelet;

    @BeforeAll
    static void start() throws IOException {
        assumeTrue(Files.isExecutable(KUBECTL), "needs kubectl (" + KUBECTL + ")");
        server = StreamingServer.start(StreamingServer.loopback(0), new LocalProcessExec());
        kubelet = new KubeletStandIn(server);
    }

    @AfterAll
    static void stop() throws IOException {
        if (kubelet != null) {
            kubelet.close();
            server.close();
        }
    }

    record Run(int exitCode, String stdout, String stderr) {
    }

    @Test
    void kubectlExec_overWebSocket_stdinOutputAndExitCode(@TempDir Path home) throws Exception {
        Run run = kubectl(home, Map.of(), "hello\n", "exec", "-i", "web", "-c", "app", "--",
                "sh", "-c", "read line; echo got $line; echo oops >&2; exit 3");

        assertEquals("got hello\n", run.stdout(), run.stderr());
        assertTrue(run.stderr().contains("oops"), run.stderr());
        assertEquals(3, run.exitCode(), run.stderr());
        assertTrue(kubelet.protocols.contains("websocket"), kubelet.protocols.toString());
    }

    @Test
    void kubectlExec_overSpdy_stdinOutputAndExitCode(@TempDir Path home) throws Exception {
        Run run = kubectl(home, Map.of("KUBECTL_REMOTE_COMMAND_WEBSOCKETS", "false"), "spdy\n", "exec", "-i", "web",
                "-c", "app", "--", "sh", "-c", "read line; echo got $line; echo oops >&2; exit 5");

        assertEquals("got spdy\n", run.stdout(), run.stderr());
        assertTrue(run.stderr().contains("oops"), run.stderr());
        assertEquals(5, run.exitCode(), run.stderr());
        assertTrue(kubelet.protocols.contains("spdy/3.1"), kubelet.protocols.toString());
    }

    private static Run kubectl(Path home, Map<String, String> env, String stdin, String... args) throws Exception {
        Path kubeconfig = Files.writeString(home.resolve("kubeconfig"), "");
        List<String> command = new ArrayList<>(List.of(KUBECTL.toString(), "--kubeconfig=" + kubeconfig,
                "--server=http://127.0.0.1:" + kubelet.port(), "--request-timeout=30s", "--namespace=default"));
        command.addAll(List.of(args));
        ProcessBuilder builder = new ProcessBuilder(command);
        builder.environment().put("HOME", home.toString());
        builder.environment().putAll(env);
        Process process = builder.start();
        try (OutputStream in = process.getOutputStream()) {
            in.write(stdin.getBytes(StandardCharsets.UTF_8));
        }
        ByteArrayOutputStream err = new ByteArrayOutputStream();
        Thread errors = Thread.ofVirtual().start(() -> {
            try {
                process.getErrorStream().transferTo(err);
            } catch (IOException ignored) {
                // kubectl ended
            }
        });
        String out = new String(process.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
        assertTrue(process.waitFor(60, TimeUnit.SECONDS), "kubectl ended");
        errors.join();
        return new Run(process.exitValue(), out, err.toString(StandardCharsets.UTF_8));
    }

    /** The API server's pod lookup and the kubelet's exec relay, as far as kubectl exec needs them. */
    static final class KubeletStandIn implements AutoCloseable {
        final List<String> protocols = new java.util.concurrent.CopyOnWriteArrayList<>();
        private final StreamingServer streaming;
        private final ServerSocket socket;

        KubeletStandIn(StreamingServer streaming) throws IOException {
            this.streaming = streaming;
            this.socket = new ServerSocket(0, 50, InetAddress.getLoopbackAddress());
            Thread.ofVirtual().start(() -> {
                while (!socket.isClosed()) {
                    try {
                        Socket client = socket.accept();
                        Thread.ofVirtual().start(() -> serve(client));
                    } catch (IOException closed) {
                        return;
                    }
                }
            });
        }

        int port() {
            return socket.getLocalPort();
        }

        private void serve(Socket client) {
            try (client) {
                BufferedInputStream in = new BufferedInputStream(client.getInputStream());
                OutputStream out = client.getOutputStream();
                while (true) {
                    List<String> head = readHead(in);
                    if (head.isEmpty()) {
                        return;
                    }
                    String[] line = head.getFirst().split(" ");
                    URI target = URI.create(line[1]);
                    if (target.getPath().equals("/api")) {
                        respond(out, 200, "{\"kind\":\"APIVersions\",\"versions\":[\"v1\"],\"serverAddressByClientCIDRs\":"
                                + "[{\"clientCIDR\":\"0.0.0.0/0\",\"serverAddress\":\"127.0.0.1\"}]}");
                    } else if (target.getPath().equals("/apis")) {
                        respond(out, 200, "{\"kind\":\"APIGroupList\",\"apiVersion\":\"v1\",\"groups\":[]}");
                    } else if (target.getPath().equals("/api/v1")) {
                        respond(out, 200, """
                                {"kind":"APIResourceList","groupVersion":"v1","resources":[\
                                {"name":"pods","singularName":"pod","namespaced":true,"kind":"Pod","verbs":["get","list"]},\
                                {"name":"pods/exec","singularName":"","namespaced":true,"kind":"PodExecOptions","verbs":["create","get"]}]}""");
                    } else if (target.getPath().equals("/api/v1/namespaces/default/pods/web")) {
                        respond(out, 200, """
                                {"kind":"Pod","apiVersion":"v1","metadata":{"name":"web","namespace":"default"},\
                                "spec":{"containers":[{"name":"app","image":"busybox"}]},"status":{"phase":"Running"}}""");
                    } else if (target.getPath().equals("/api/v1/namespaces/default/pods/web/exec")) {
                        relayExec(line[0], target, head, in, out);
                        return;
                    } else {
                        respond(out, 404, "{\"kind\":\"Status\",\"apiVersion\":\"v1\",\"status\":\"Failure\",\"code\":404}");
                    }
                }
            } catch (IOException ignored) {
                // kubectl went away
            }
        }

        /** What the kubelet does: Exec with the client's options, then the upgraded connection relayed as is. */
        private void relayExec(String method, URI target, List<String> head, InputStream in, OutputStream out)
                throws IOException {
            ExecRequest.Builder exec = ExecRequest.newBuilder().setContainerId("c1");
            for (String pair : target.getRawQuery().split("&")) {
                String[] kv = pair.split("=", 2);
                String value = URLDecoder.decode(kv.length > 1 ? kv[1] : "", StandardCharsets.UTF_8);
                switch (kv[0]) {
                    case "command" -> exec.addCmd(value);
                    case "stdin" -> exec.setStdin(value.equals("true") || value.equals("1"));
                    case "stdout" -> exec.setStdout(value.equals("true") || value.equals("1"));
                    case "stderr" -> exec.setStderr(value.equals("true") || value.equals("1"));
                    case "tty" -> exec.setTty(value.equals("true") || value.equals("1"));
                    default -> { }
                }
            }
            URI url = URI.create(streaming.execUrl(exec.build()));
            try (Socket backend = new Socket(url.getHost(), url.getPort())) {
                StringBuilder request = new StringBuilder(method + " " + url.getRawPath() + " HTTP/1.1\r\n");
                for (String header : head.subList(1, head.size())) {
                    String lower = header.toLowerCase(java.util.Locale.ROOT);
                    if (lower.startsWith("upgrade:")) {
                        protocols.add(lower.substring("upgrade:".length()).strip());
                    }
                    request.append(lower.startsWith("host:") ? "Host: " + url.getAuthority() : header).append("\r\n");
                }
                OutputStream toBackend = backend.getOutputStream();
                toBackend.write(request.append("\r\n").toString().getBytes(StandardCharsets.ISO_8859_1));
                toBackend.flush();
                Thread up = Thread.ofVirtual().start(() -> {
                    try {
                        in.transferTo(toBackend);
                        backend.shutdownOutput();
                    } catch (IOException ignored) {
                        // either side closed
                    }
                });
                backend.getInputStream().transferTo(out);
                out.flush();
                up.interrupt();
            }
        }

        private static List<String> readHead(InputStream in) throws IOException {
            List<String> lines = new ArrayList<>();
            ByteArrayOutputStream line = new ByteArrayOutputStream();
            int b;
            while ((b = in.read()) >= 0) {
                if (b == '\n') {
                    String text = line.toString(StandardCharsets.ISO_8859_1).replaceFirst("\r$", "");
                    line.reset();
                    if (text.isEmpty()) {
                        return lines;
                    }
                    lines.add(text);
                } else {
                    line.write(b);
                }
            }
            return List.of();
        }

        private static void respond(OutputStream out, int status, String json) throws IOException {
            byte[] body = json.getBytes(StandardCharsets.UTF_8);
            out.write(("HTTP/1.1 " + status + (status == 200 ? " OK" : " Not Found") + "\r\nContent-Type: application/json\r\n"
                    + "Content-Length: " + body.length + "\r\n\r\n").getBytes(StandardCharsets.ISO_8859_1));
            out.write(body);
            out.flush();
        }

        @Override
        public void close() throws IOException {
            socket.close();
        }
    }
}
