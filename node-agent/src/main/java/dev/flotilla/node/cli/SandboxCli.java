package dev.flotilla.node.cli;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;

import java.io.IOException;
import java.io.PrintStream;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.net.http.WebSocket;
import java.nio.ByteBuffer;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Locale;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionStage;

/**
 * The command line for a node agent's API: {@code sandbox ls|run|get|stop|rm|console|logs|exec} and {@code node}. The agent
 * is {@code $FLOTILLA_AGENT_URL} (default http://127.0.0.1:7070); the token is {@code $FLOTILLA_AGENT_TOKEN}, else
 * the agent's generated token file under its default state directory.
 */
public final class SandboxCli {
    private static final ObjectMapper JSON = new ObjectMapper();
    private static final String USAGE = """
            usage: sandbox ls
                   sandbox run [--name NAME] [--guest tiny|linux] [--vcpus N] [--memory MIB] [--network] [--image IMAGE] [-- CMD ARGS...]
                   sandbox get|stop|rm REF
                   sandbox console REF        (serial console; Ctrl-] ends)
                   sandbox logs REF [CONTAINER] [-f]   (a container's output, default container main; -f follows)
                   sandbox exec REF [-c CONTAINER] [-t] -- CMD ARGS...   (interactive; -t: a terminal; exits with its code)
                   node
            agent: $FLOTILLA_AGENT_URL (default http://127.0.0.1:7070), token $FLOTILLA_AGENT_TOKEN or the agent's api-token file""";

    private final String base;
    private final String token;
    private final PrintStream out;
    private final HttpClient http = HttpClient.newBuilder().connectTimeout(Duration.ofSeconds(5)).build();

    SandboxCli(String base, String token, PrintStream out) {
        this.base = base.replaceAll("/+$", "");
        this.token = token;
        this.out = out;
    }

    public static int main(String[] args) {
        String base = System.getenv().getOrDefault("FLOTILLA_AGENT_URL", "http://127.0.0.1:7070");
        String token = System.getenv("FLOTILLA_AGENT_TOKEN");
        if (token == null) {
            Path file = Path.of(System.getenv().getOrDefault("FLOTILLA_NODE_STATE_DIR",
                    System.getProperty("user.home") + "/.local/share/flotilla/node-agent"), "api-token");
            try {
                token = Files.readString(file).strip();
            } catch (IOException e) {
                System.err.println("no token: set FLOTILLA_AGENT_TOKEN, or run where the agent's " + file + " is readable");
                return 2;
            }
        }
        try {
            return new SandboxCli(base, token, System.out).run(args);
        } catch (CliException e) {
            System.err.println(e.getMessage());
            return 1;
        }
    }

    int run(String[] args) {
        if (args.length == 0) {
            System.err.println(USAGE);
            return 2;
        }
        if (args[0].equals("node")) {
            out.println(pretty(call("GET", "/api/v1/node", null)));
            return 0;
        }
        if (!args[0].equals("sandbox") || args.length < 2) {
            System.err.println(USAGE);
            return 2;
        }
        String verb = args[1];
        List<String> rest = List.of(args).subList(2, args.length);
        switch (verb) {
            case "ls" -> list();
            case "run" -> runSandbox(rest);
            case "get" -> out.println(pretty(call("GET", "/api/v1/sandboxes/" + one(rest), null)));
            case "stop" -> show(call("POST", "/api/v1/sandboxes/" + one(rest) + "/stop", null));
            case "rm" -> {
                call("DELETE", "/api/v1/sandboxes/" + one(rest), null);
                out.println("removed " + one(rest));
            }
            case "console" -> console(one(rest));
            case "logs" -> logs(rest);
            case "exec" -> {
                return exec(rest);
            }
            default -> {
                System.err.println("unknown sandbox command '" + verb + "'\n" + USAGE);
                return 2;
            }
        }
        return 0;
    }

    private static String one(List<String> rest) {
        if (rest.size() != 1) {
            throw new CliException("expected one sandbox id or name\n" + USAGE);
        }
        return rest.getFirst();
    }

    private void list() {
        JsonNode page = call("GET", "/api/v1/sandboxes", null);
        out.printf(Locale.ROOT, "%-24s %-20s %-6s %-9s %5s %7s %8s  %s%n", "ID", "NAME", "GUEST", "STATE", "VCPUS", "MEM_MIB", "BOOT_MS", "ADDRESS");
        for (JsonNode s : page.path("sandboxes")) {
            out.printf(Locale.ROOT, "%-24s %-20s %-6s %-9s %5d %7d %8s  %s%n", s.path("id").asText(), s.path("name").asText(),
                    s.path("guest").asText(), s.path("state").asText(), s.path("vcpus").asInt(), s.path("memoryMiB").asLong(),
                    s.hasNonNull("bootTimeMillis") ? s.path("bootTimeMillis").asText() : "-",
                    s.path("network").path("address").asText("-"));
        }
    }

    private void runSandbox(List<String> args) {
        ObjectNode body = JSON.createObjectNode();
        body.put("name", "sb-" + Long.toString(System.nanoTime() % 1_000_000_000L, 36));
        for (int i = 0; i < args.size(); i++) {
            String a = args.get(i);
            if (a.equals("--")) {
                ArrayNode cmd = body.putArray("command");
                args.subList(i + 1, args.size()).forEach(cmd::add);
                break;
            }
            if (a.equals("--network")) {
                body.put("network", true);
                continue;
            }
            if (i + 1 >= args.size()) {
                throw new CliException(a + " needs a value\n" + USAGE);
            }
            String v = args.get(++i);
            switch (a) {
                case "--name" -> body.put("name", v);
                case "--guest" -> body.put("guest", v);
                case "--image" -> body.put("image", v);
                case "--vcpus" -> body.put("vcpus", number(a, v));
                case "--memory" -> body.put("memoryMiB", number(a, v));
                default -> throw new CliException("unknown option " + a + "\n" + USAGE);
            }
        }
        JsonNode created = call("POST", "/api/v1/sandboxes", body.toString());
        String id = created.path("id").asText();
        long deadline = System.nanoTime() + Duration.ofSeconds(60).toNanos();
        while (created.path("state").asText().equals("STARTING") && System.nanoTime() < deadline) {
            try {
                Thread.sleep(50);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                break;
            }
            created = call("GET", "/api/v1/sandboxes/" + id, null);
        }
        show(created);
    }

    private static long number(String flag, String v) {
        try {
            return Long.parseLong(v);
        } catch (NumberFormatException e) {
            throw new CliException(flag + " needs a whole number, not " + v);
        }
    }

    private void show(JsonNode s) {
        out.printf(Locale.ROOT, "%s %s: %s%s%s%n", s.path("id").asText(), s.path("name").asText(), s.path("state").asText(),
                s.hasNonNull("bootTimeMillis") ? ", booted in " + s.path("bootTimeMillis").asText() + " ms" : "",
                s.hasNonNull("message") ? " (" + s.path("message").asText() + ")" : "");
    }

    private void console(String ref) {
        CompletableFuture<Void> closed = new CompletableFuture<>();
        String wsBase = base.replaceFirst("^http", "ws");
        WebSocket socket = http.newWebSocketBuilder().header("Authorization", "Bearer " + token)
                .buildAsync(URI.create(wsBase + "/api/v1/sandboxes/" + ref + "/console/ws"), new WebSocket.Listener() {
                    @Override
                    public CompletionStage<?> onBinary(WebSocket ws, ByteBuffer data, boolean last) {
                        byte[] b = new byte[data.remaining()];
                        data.get(b);
                        out.write(b, 0, b.length);
                        out.flush();
                        ws.request(1);
                        return null;
                    }

                    @Override
                    public CompletionStage<?> onClose(WebSocket ws, int code, String reason) {
                        System.err.println("\r\nconsole closed: " + code + " " + reason);
                        closed.complete(null);
                        return null;
                    }

                    @Override
                    public void onError(WebSocket ws, Throwable error) {
                        closed.completeExceptionally(error);
                    }
                }).exceptionally(e -> {
                    throw new CliException("cannot open the console of " + ref + ": " + e.getCause());
                }).join();
        Thread.ofPlatform().daemon(true).start(() -> {
            byte[] buf = new byte[256];
            try {
                int n;
                while ((n = System.in.read(buf)) > 0) {
                    for (int i = 0; i < n; i++) {
                        if (buf[i] == 0x1d) { // Ctrl-]
                            socket.sendClose(WebSocket.NORMAL_CLOSURE, "bye");
                            closed.complete(null);
                            return;
                        }
                    }
                    socket.sendBinary(ByteBuffer.wrap(buf, 0, n), true).join();
                }
            } catch (IOException e) {
                closed.complete(null);
            }
        });
        closed.join();
    }

    /**
     * Runs a command in a container through the exec WebSocket: this process's stdin goes to it (its EOF closes the
     * command's stdin), its stdout and stderr come back to ours; answers its exit code (128 + signal when killed).
     * With -t, a terminal of this one's size, put in raw mode meanwhile.
     */
    private int exec(List<String> rest) {
        String container = "main";
        boolean tty = false;
        int dash = rest.indexOf("--");
        List<String> opts = dash < 0 ? rest : rest.subList(0, dash);
        List<String> command = dash < 0 ? List.of() : rest.subList(dash + 1, rest.size());
        String ref = null;
        for (int i = 0; i < opts.size(); i++) {
            switch (opts.get(i)) {
                case "-t", "--tty" -> tty = true;
                case "-c", "--container" -> {
                    if (++i >= opts.size()) {
                        throw new CliException("-c needs a container id\n" + USAGE);
                    }
                    container = opts.get(i);
                }
                default -> {
                    if (ref != null) {
                        throw new CliException("unexpected '" + opts.get(i) + "' (the command goes after --)\n" + USAGE);
                    }
                    ref = opts.get(i);
                }
            }
        }
        if (ref == null || command.isEmpty()) {
            throw new CliException("expected a sandbox and a command after --\n" + USAGE);
        }
        StringBuilder query = new StringBuilder("?tty=").append(tty);
        for (String c : command) {
            query.append("&command=").append(java.net.URLEncoder.encode(c, java.nio.charset.StandardCharsets.UTF_8));
        }
        String saved = null;
        if (tty) {
            String size = stty("size");
            if (size != null && size.strip().matches("\\d+ \\d+")) {
                String[] rc = size.strip().split(" ");
                query.append("&rows=").append(rc[0]).append("&cols=").append(rc[1]);
            }
            saved = stty("-g");
            if (saved != null) {
                stty("raw", "-echo");
            }
        }
        String sandbox = ref;
        CompletableFuture<Integer> result = new CompletableFuture<>();
        java.io.ByteArrayOutputStream frame = new java.io.ByteArrayOutputStream();
        StringBuilder text = new StringBuilder();
        int[] exit = {-1};
        boolean raw = tty;
        try {
            WebSocket socket = http.newWebSocketBuilder().header("Authorization", "Bearer " + token)
                    .buildAsync(URI.create(base.replaceFirst("^http", "ws") + "/api/v1/sandboxes/" + ref + "/containers/"
                            + container + "/exec/ws" + query), new WebSocket.Listener() {
                        @Override
                        public CompletionStage<?> onBinary(WebSocket ws, ByteBuffer data, boolean last) {
                            byte[] b = new byte[data.remaining()];
                            data.get(b);
                            frame.writeBytes(b);
                            if (last) {
                                byte[] f = frame.toByteArray();
                                frame.reset();
                                if (raw) {
                                    out.write(f, 0, f.length);
                                    out.flush();
                                } else if (f.length > 0) {
                                    PrintStream to = f[0] == 2 ? System.err : out;
                                    to.write(f, 1, f.length - 1);
                                    to.flush();
                                }
                            }
                            ws.request(1);
                            return null;
                        }

                        @Override
                        public CompletionStage<?> onText(WebSocket ws, CharSequence data, boolean last) {
                            text.append(data);
                            if (last) {
                                try {
                                    JsonNode m = JSON.readTree(text.toString());
                                    if (m.has("exitCode")) {
                                        exit[0] = m.path("exitCode").asInt();
                                    } else if (m.has("error")) {
                                        System.err.println("exec: " + m.path("error").asText());
                                    }
                                } catch (IOException ignored) {
                                    // not ours to judge: the agent only sends JSON
                                }
                                text.setLength(0);
                            }
                            ws.request(1);
                            return null;
                        }

                        @Override
                        public CompletionStage<?> onClose(WebSocket ws, int code, String reason) {
                            if (code != WebSocket.NORMAL_CLOSURE) {
                                System.err.println("exec ended: " + code + " " + reason);
                            }
                            result.complete(exit[0] >= 0 ? exit[0] : code == WebSocket.NORMAL_CLOSURE ? 0 : 1);
                            return null;
                        }

                        @Override
                        public void onError(WebSocket ws, Throwable error) {
                            System.err.println("exec: " + error.getMessage());
                            result.complete(1);
                        }
                    }).exceptionally(e -> {
                        throw new CliException("cannot exec in " + sandbox + ": " + e.getCause());
                    }).join();
            Thread.ofPlatform().daemon(true).start(() -> {
                byte[] buf = new byte[4096];
                try {
                    int n;
                    while ((n = System.in.read(buf)) > 0) {
                        socket.sendBinary(ByteBuffer.wrap(buf, 0, n), true).join(); // sent before buf is reused
                    }
                    socket.sendText("{\"closeStdin\":true}", true).join();
                } catch (IOException | java.util.concurrent.CompletionException e) {
                    // the exec ended first
                }
            });
            return result.join();
        } finally {
            if (saved != null) {
                stty(saved.strip());
            }
        }
    }

    /** Runs stty on the controlling terminal; its output, or null without one. */
    private static String stty(String... args) {
        List<String> cmd = new java.util.ArrayList<>(List.of("stty"));
        cmd.addAll(List.of(args));
        try {
            Process p = new ProcessBuilder(cmd).redirectInput(new java.io.File("/dev/tty")).redirectErrorStream(true).start();
            String output = new String(p.getInputStream().readAllBytes(), java.nio.charset.StandardCharsets.UTF_8);
            return p.waitFor() == 0 ? output : null;
        } catch (IOException e) {
            return null;
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            return null;
        }
    }

    /** Copies a container's logs to stdout; with -f until the container ends. */
    private void logs(List<String> rest) {
        boolean follow = rest.contains("-f") || rest.contains("--follow");
        List<String> names = rest.stream().filter(a -> !a.equals("-f") && !a.equals("--follow")).toList();
        if (names.isEmpty() || names.size() > 2) {
            throw new CliException("expected a sandbox and optionally a container\n" + USAGE);
        }
        String container = names.size() == 2 ? names.get(1) : "main";
        HttpRequest request = HttpRequest.newBuilder(URI.create(base + "/api/v1/sandboxes/" + names.get(0) + "/containers/"
                        + container + "/logs?follow=" + follow))
                .header("Authorization", "Bearer " + token).header("Accept", "text/plain, application/problem+json").GET().build();
        try {
            HttpResponse<java.io.InputStream> r = http.send(request, HttpResponse.BodyHandlers.ofInputStream());
            try (java.io.InputStream in = r.body()) {
                if (r.statusCode() / 100 != 2) {
                    String body = new String(in.readAllBytes(), java.nio.charset.StandardCharsets.UTF_8);
                    JsonNode json = body.isBlank() ? JSON.createObjectNode() : JSON.readTree(body);
                    throw new CliException("the node agent refused: HTTP " + r.statusCode() + ": " + json.path("detail").asText(body));
                }
                in.transferTo(out);
                out.flush();
            }
        } catch (IOException e) {
            throw new CliException("cannot reach the node agent at " + base + ": " + e.getMessage());
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new CliException("interrupted");
        }
    }

    private JsonNode call(String method, String path, String body) {
        HttpRequest.Builder b = HttpRequest.newBuilder(URI.create(base + path)).timeout(Duration.ofSeconds(60))
                .header("Authorization", "Bearer " + token).header("Accept", "application/json");
        b.method(method, body == null ? HttpRequest.BodyPublishers.noBody() : HttpRequest.BodyPublishers.ofString(body));
        if (body != null) {
            b.header("Content-Type", "application/json");
        }
        try {
            HttpResponse<String> r = http.send(b.build(), HttpResponse.BodyHandlers.ofString());
            JsonNode json = r.body().isBlank() ? JSON.createObjectNode() : JSON.readTree(r.body());
            if (r.statusCode() / 100 != 2) {
                throw new CliException("the node agent refused: HTTP " + r.statusCode() + ": " + json.path("detail").asText(r.body()));
            }
            return json;
        } catch (IOException e) {
            throw new CliException("cannot reach the node agent at " + base + ": " + e.getMessage());
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new CliException("interrupted");
        }
    }

    private static String pretty(JsonNode n) {
        try {
            return JSON.writerWithDefaultPrettyPrinter().writeValueAsString(n);
        } catch (IOException e) {
            return n.toString();
        }
    }

    static final class CliException extends RuntimeException {
        CliException(String message) {
            super(message);
        }
    }

}
