package dev.flotilla.cri.streaming;

import dev.flotilla.cri.CriException;
import dev.flotilla.cri.backend.PortForwardBackend;
import dev.flotilla.cri.v1.AttachRequest;
import dev.flotilla.cri.v1.ExecRequest;
import dev.flotilla.cri.v1.PortForwardRequest;
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
import java.net.InetSocketAddress;
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
 * kubectl itself as the client: {@code kubectl exec} and {@code kubectl port-forward} talk to a stand-in for the API
 * server and the kubelet ({@link KubeletStandIn}: it answers the pod lookup, then does what the kubelet does, calls
 * Exec or PortForward and relays the upgraded connection byte for byte to the URL it got), so the streaming server
 * meets the real Go client of both exec protocols (WebSocket, kubectl's default, and SPDY, what the API server speaks
 * to kubelets) and of port forwarding (SPDY).
 */
class KubectlStreamingTest {
    private static final Path KUBECTL = Path.of("/usr/bin/kubectl");
    private static StreamingServer server;
    private static KubeletStandIn kubelet;
    private static PongServer pod;
    private static LocalProcessExec processes;

    @BeforeAll
    static void start() throws IOException {
        assumeTrue(Files.isExecutable(KUBECTL), "needs kubectl (" + KUBECTL + ")");
        pod = new PongServer();
        processes = new LocalProcessExec();
        server = StreamingServer.start(StreamingServer.loopback(0), processes, new PortForwardBackend() {
            @Override
            public void checkPortForward(PortForwardRequest request) {
            }

            @Override
            public InetSocketAddress target(String podSandboxId, int port) {
                if (!podSandboxId.equals("p1") || port != 8080) {
                    throw CriException.failedPrecondition("pod " + podSandboxId + " has nothing on port " + port);
                }
                return new InetSocketAddress(InetAddress.getLoopbackAddress(), pod.port());
            }
        }, processes);
        kubelet = new KubeletStandIn(server);
    }

    @AfterAll
    static void stop() throws IOException {
        if (kubelet != null) {
            kubelet.close();
            server.close();
            pod.close();
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

    @Test
    void kubectlAttach_joinsTheRunningMainProcess(@TempDir Path home) throws Exception {
        processes.startMain("c1", List.of("sh", "-c", "read line; echo attached $line; echo bye >&2"));

        Run run = kubectl(home, Map.of(), "hi\n", "attach", "-i", "web", "-c", "app");

        assertEquals("attached hi\n", run.stdout(), run.stderr());
        assertTrue(run.stderr().contains("bye"), run.stderr());
        assertEquals(0, run.exitCode(), run.stderr());
    }

    @Test
    void kubectlPortForward_relaysEachConnectionToThePodsPort(@TempDir Path home) throws Exception {
        try (Forwarding forward = portForward(home, 8080)) {
            for (String word : List.of("ping", "again")) {
                assertEquals("pong " + word + "\n", forward.exchange(word + "\n"), "kubectl said: " + forward.said);
            }
            assertTrue(kubelet.protocols.contains("spdy/3.1"), kubelet.protocols.toString());
        }
    }

    @Test
    void kubectlPortForward_toAPortThePodDoesNotServe_reportsTheReason(@TempDir Path home) throws Exception {
        try (Forwarding forward = portForward(home, 9999)) {
            assertEquals("", forward.exchange("ping\n"), "nothing comes back");
            long until = System.nanoTime() + TimeUnit.SECONDS.toNanos(10);
            while (!forward.said.toString().contains("has nothing on port 9999") && System.nanoTime() < until) {
                Thread.sleep(50);
            }
            assertTrue(forward.said.toString().contains("pod p1 has nothing on port 9999"), forward.said.toString());
        }
    }

    /** A running {@code kubectl port-forward pod/web LOCAL:port} and what it printed. */
    record Forwarding(Process process, int local, StringBuffer said) implements AutoCloseable {
        /** One connection through the forwarded port: sends {@code text}, returns all that came back. */
        String exchange(String text) throws IOException {
            try (Socket connection = new Socket(InetAddress.getLoopbackAddress(), local)) {
                connection.setSoTimeout(30_000);
                connection.getOutputStream().write(text.getBytes(StandardCharsets.UTF_8));
                connection.shutdownOutput();
                try {
                    return new String(connection.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
                } catch (java.net.SocketTimeoutException e) {
                    throw new AssertionError("no end of the answer through the forwarded port; kubectl said: " + said, e);
                }
            }
        }

        @Override
        public void close() throws InterruptedException {
            process.destroy();
            process.waitFor(10, TimeUnit.SECONDS);
        }
    }

    private static Forwarding portForward(Path home, int podPort) throws Exception {
        int local;
        try (ServerSocket free = new ServerSocket(0, 1, InetAddress.getLoopbackAddress())) {
            local = free.getLocalPort();
        }
        Path kubeconfig = Files.writeString(home.resolve("kubeconfig"), "");
        ProcessBuilder builder = new ProcessBuilder(KUBECTL.toString(), "--kubeconfig=" + kubeconfig,
                "--server=http://127.0.0.1:" + kubelet.port(), "--namespace=default", "port-forward", "pod/web",
                local + ":" + podPort).redirectErrorStream(true);
        builder.environment().put("HOME", home.toString());
        Process process = builder.start();
        java.io.BufferedReader output = new java.io.BufferedReader(new java.io.InputStreamReader(
                process.getInputStream(), StandardCharsets.UTF_8));
        String first = output.readLine();
        assertTrue(first != null && first.contains("Forwarding from 127.0.0.1:" + local), String.valueOf(first));
        StringBuffer said = new StringBuffer(first).append('\n');
        Thread.ofVirtual().start(() -> {
            try {
                String next;
                while ((next = output.readLine()) != null) {
                    said.append(next).append('\n');
                }
            } catch (IOException ignored) {
                // kubectl ended
            }
        });
        return new Forwarding(process, local, said);
    }

    /** The pod's service: answers each connection's line with "pong <line>", then closes. */
    static final class PongServer implements AutoCloseable {
        private final ServerSocket socket = new ServerSocket(0, 50, InetAddress.getLoopbackAddress());

        PongServer() throws IOException {
            Thread.ofVirtual().start(() -> {
                while (!socket.isClosed()) {
                    try {
                        Socket client = socket.accept();
                        Thread.ofVirtual().start(() -> {
                            try (client) {
                                String text = new String(client.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
                                client.getOutputStream().write(("pong " + text).getBytes(StandardCharsets.UTF_8));
                            } catch (IOException ignored) {
                                // the client went away
                            }
                        });
                    } catch (IOException closed) {
                        return;
                    }
                }
            });
        }

        int port() {
            return socket.getLocalPort();
        }

        @Override
        public void close() throws IOException {
            socket.close();
        }
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
                        relay(line[0], URI.create(streaming.execUrl(execRequest(target))), head, in, out);
                        return;
                    } else if (target.getPath().equals("/api/v1/namespaces/default/pods/web/attach")) {
                        ExecRequest options = execRequest(target);
                        relay(line[0], URI.create(streaming.attachUrl(AttachRequest.newBuilder().setContainerId("c1")
                                .setStdin(options.getStdin()).setStdout(options.getStdout()).setStderr(options.getStderr())
                                .setTty(options.getTty()).build())), head, in, out);
                        return;
                    } else if (target.getPath().equals("/api/v1/namespaces/default/pods/web/portforward")) {
                        PortForwardRequest.Builder ports = PortForwardRequest.newBuilder().setPodSandboxId("p1");
                        for (String pair : target.getRawQuery() == null ? new String[0] : target.getRawQuery().split("&")) {
                            if (pair.startsWith("ports=")) {
                                ports.addPort(Integer.parseInt(pair.substring("ports=".length())));
                            }
                        }
                        relay(line[0], URI.create(streaming.portForwardUrl(ports.build())), head, in, out);
                        return;
                    } else {
                        respond(out, 404, "{\"kind\":\"Status\",\"apiVersion\":\"v1\",\"status\":\"Failure\",\"code\":404}");
                    }
                }
            } catch (IOException ignored) {
                // kubectl went away
            }
        }

        /** The Exec call the kubelet makes for the client's options. */
        private static ExecRequest execRequest(URI target) {
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
            return exec.build();
        }

        /** What the kubelet does with the URL it got: the client's upgraded connection relayed as is. */
        private void relay(String method, URI url, List<String> head, InputStream in, OutputStream out) throws IOException {
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
