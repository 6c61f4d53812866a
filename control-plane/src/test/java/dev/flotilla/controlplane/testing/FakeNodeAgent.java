package dev.flotilla.controlplane.testing;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.sun.net.httpserver.HttpExchange;
import com.sun.net.httpserver.HttpServer;
import dev.flotilla.contract.v1.ContractVersion;
import dev.flotilla.contract.v1.ControlPlanePaths;
import dev.flotilla.contract.v1.Heartbeat;
import dev.flotilla.contract.v1.KvmKind;
import dev.flotilla.contract.v1.NodeAgentPaths;
import dev.flotilla.contract.v1.NodeCapacity;
import dev.flotilla.contract.v1.NodeRegistration;
import dev.flotilla.contract.v1.NodeRegistrationAccepted;
import dev.flotilla.contract.v1.NodeUsage;
import dev.flotilla.contract.v1.SandboxLaunch;
import dev.flotilla.contract.v1.SandboxList;
import dev.flotilla.contract.v1.SandboxStatus;
import dev.flotilla.contract.v1.Taint;
import dev.flotilla.contract.v1.VmReport;
import dev.flotilla.contract.v1.VmState;

import java.io.IOException;
import java.net.InetSocketAddress;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;

/**
 * The node side of the contract for tests: a real HTTP server serving the node-agent sandbox API
 * ({@link NodeAgentPaths}) over an in-memory table of "VMs", which registers with the control plane and sends
 * heartbeats like a node agent would. No VMs are booted: the control plane cannot tell the difference on the wire.
 */
public final class FakeNodeAgent implements AutoCloseable {
    private static final ObjectMapper JSON = new ObjectMapper().findAndRegisterModules();

    private final String name;
    private final String controlPlane;
    private final NodeCapacity capacity;
    private final Map<String, String> labels;
    private final List<Taint> taints;
    private final HttpServer server;
    private final HttpClient http = HttpClient.newHttpClient();
    private final Map<String, SandboxStatus> vms = new ConcurrentHashMap<>();
    private final Map<String, Long> memory = new ConcurrentHashMap<>();
    /** Console URLs to report in heartbeats, by sandbox id (as an agent serving serial consoles would). */
    public final Map<String, String> consoleUrls = new ConcurrentHashMap<>();
    /** Every call received, as "METHOD /path". */
    public final List<String> calls = new CopyOnWriteArrayList<>();
    /** Answer this many more calls with 503 before serving them. */
    public final AtomicInteger failNextCalls = new AtomicInteger();
    private final ScheduledExecutorService heartbeats = Executors.newSingleThreadScheduledExecutor();
    private volatile boolean heartbeating;
    private volatile String nodeId;
    private volatile String nodeToken;

    public FakeNodeAgent(String name, String controlPlane, NodeCapacity capacity, Map<String, String> labels,
                         List<Taint> taints) throws IOException {
        this.name = name;
        this.controlPlane = controlPlane;
        this.capacity = capacity;
        this.labels = labels;
        this.taints = taints;
        server = HttpServer.create(new InetSocketAddress("127.0.0.1", 0), 0);
        server.createContext(NodeAgentPaths.SANDBOXES, this::handle);
        server.createContext("/api/v1/sandboxes/", this::console);
        server.setExecutor(Executors.newFixedThreadPool(4));
        server.start();
        heartbeats.scheduleAtFixedRate(() -> {
            if (heartbeating) {
                try {
                    heartbeat();
                } catch (Exception ignored) {
                    // the next beat retries, as a real agent does
                }
            }
        }, 200, 300, TimeUnit.MILLISECONDS);
    }

    /**
     * An agent whose node carries a taint of its own, so only sandboxes with {@link #toleration()} land there:
     * tests sharing one database do not place into each other's nodes.
     */
    public static FakeNodeAgent isolated(String name, String controlPlane, NodeCapacity capacity, Map<String, String> labels)
            throws IOException {
        return new FakeNodeAgent(name, controlPlane, capacity, labels,
                List.of(new Taint(DEDICATED, name, dev.flotilla.contract.v1.TaintEffect.NO_SCHEDULE)));
    }

    public static final String DEDICATED = "flotilla.test/dedicated";

    /** A toleration (API form) for the taint of an {@link #isolated} agent named {@code name}. */
    public static Map<String, Object> toleration(String name) {
        return Map.of("key", DEDICATED, "operator", "Equal", "value", name, "effect", "NoSchedule");
    }

    public String name() {
        return name;
    }

    public String endpoint() {
        return "http://127.0.0.1:" + server.getAddress().getPort();
    }

    public String nodeId() {
        return nodeId;
    }

    public String nodeToken() {
        return nodeToken;
    }

    public Map<String, SandboxStatus> vms() {
        return vms;
    }

    /** Registers (or re-registers) with the join token and starts heartbeats. */
    public NodeRegistrationAccepted register(String joinToken) throws Exception {
        NodeRegistration registration = new NodeRegistration(name, endpoint(), null, capacity, labels, taints,
                KvmKind.PVM, "test");
        HttpResponse<String> response = post(ControlPlanePaths.REGISTER, joinToken, registration);
        if (response.statusCode() != 200) {
            throw new IllegalStateException("registration of " + name + " answered " + response.statusCode() + ": " + response.body());
        }
        NodeRegistrationAccepted accepted = JSON.readValue(response.body(), NodeRegistrationAccepted.class);
        nodeId = accepted.nodeId();
        nodeToken = accepted.nodeToken();
        heartbeating = true;
        return accepted;
    }

    public void pauseHeartbeats() {
        heartbeating = false;
    }

    public void resumeHeartbeats() {
        heartbeating = true;
    }

    /** Sends one heartbeat now with every VM this agent holds. */
    public HttpResponse<String> heartbeat() throws Exception {
        List<VmReport> reports = new ArrayList<>();
        long usedMemory = 0;
        for (SandboxStatus status : vms.values()) {
            long mib = memory.getOrDefault(status.sandboxId(), 0L);
            usedMemory += mib;
            reports.add(new VmReport(status.sandboxId(), status.state(), status.bootTimeMillis(), mib, status.message(),
                    consoleUrls.get(status.sandboxId())));
        }
        Heartbeat heartbeat = new Heartbeat(capacity, new NodeUsage(0, usedMemory, reports.size()), reports);
        return post(ControlPlanePaths.heartbeat(nodeId), nodeToken, heartbeat);
    }

    /** Lets a VM end on its own, as a crash or exit would. */
    public void endVm(String sandboxId, VmState state, String message) {
        vms.computeIfPresent(sandboxId, (id, status) ->
                new SandboxStatus(id, state, status.generation(), status.bootTimeMillis(), message));
    }

    private HttpResponse<String> post(String path, String token, Object body) throws Exception {
        HttpRequest request = HttpRequest.newBuilder(URI.create(controlPlane + path))
                .header("Authorization", "Bearer " + token).header("Content-Type", "application/json")
                .header(ContractVersion.HEADER, ContractVersion.CURRENT)
                .POST(HttpRequest.BodyPublishers.ofByteArray(JSON.writeValueAsBytes(body))).build();
        return http.send(request, HttpResponse.BodyHandlers.ofString());
    }

    private void handle(HttpExchange exchange) throws IOException {
        try (exchange) {
            String method = exchange.getRequestMethod();
            String path = exchange.getRequestURI().getPath();
            calls.add(method + " " + path);
            if (failNextCalls.getAndUpdate(n -> Math.max(0, n - 1)) > 0) {
                respond(exchange, 503, Map.of("title", "Service Unavailable", "status", 503, "detail", "test failure"));
                return;
            }
            String[] parts = path.substring(NodeAgentPaths.SANDBOXES.length()).split("/");
            String id = parts.length > 1 ? parts[1] : null;
            boolean stop = parts.length > 2 && parts[2].equals("stop");
            if (id == null && method.equals("GET")) {
                respond(exchange, 200, new SandboxList(List.copyOf(vms.values())));
            } else if (id != null && method.equals("PUT") && !stop) {
                SandboxLaunch launch = JSON.readValue(exchange.getRequestBody(), SandboxLaunch.class);
                SandboxStatus existing = vms.get(id);
                if (existing != null && existing.generation() >= launch.generation()) {
                    respond(exchange, 200, existing);
                    return;
                }
                SandboxStatus running = new SandboxStatus(id, VmState.RUNNING, launch.generation(), 42L + launch.vcpus(), null);
                vms.put(id, running);
                memory.put(id, launch.memoryMiB());
                respond(exchange, 201, running);
            } else if (id != null && stop && method.equals("POST")) {
                SandboxStatus existing = vms.get(id);
                if (existing == null) {
                    respond(exchange, 404, Map.of("title", "Not Found", "status", 404));
                    return;
                }
                SandboxStatus stopped = new SandboxStatus(id, VmState.STOPPED, existing.generation(), existing.bootTimeMillis(), null);
                vms.put(id, stopped);
                respond(exchange, 200, stopped);
            } else if (id != null && method.equals("DELETE")) {
                vms.remove(id);
                memory.remove(id);
                exchange.sendResponseHeaders(204, -1);
            } else if (id != null && method.equals("GET")) {
                SandboxStatus existing = vms.get(id);
                respond(exchange, existing == null ? 404 : 200, existing == null ? Map.of("status", 404) : existing);
            } else {
                respond(exchange, 405, Map.of("title", "Method Not Allowed", "status", 405));
            }
        }
    }

    /** The node API's console snapshot ({@link NodeAgentPaths#CONSOLE}): one line naming the VM, 404 when unknown. */
    private void console(HttpExchange exchange) throws IOException {
        try (exchange) {
            String path = exchange.getRequestURI().getPath();
            calls.add(exchange.getRequestMethod() + " " + path);
            String id = path.substring("/api/v1/sandboxes/".length()).split("/")[0];
            if (!exchange.getRequestMethod().equals("GET") || !path.equals(NodeAgentPaths.console(id))) {
                respond(exchange, 404, Map.of("title", "Not Found", "status", 404, "detail", "no route " + path));
            } else if (!vms.containsKey(id)) {
                respond(exchange, 404, Map.of("title", "Not Found", "status", 404, "detail", "sandbox " + id + " does not exist"));
            } else {
                byte[] text = ("fake console of " + id + "\n").getBytes(java.nio.charset.StandardCharsets.UTF_8);
                exchange.sendResponseHeaders(200, text.length);
                exchange.getResponseBody().write(text);
            }
        }
    }

    /** Stops answering calls but keeps heartbeating: a node that looks alive whose agent cannot be reached. */
    public void stopServing() {
        server.stop(0);
    }

    private static void respond(HttpExchange exchange, int status, Object body) throws IOException {
        byte[] bytes = JSON.writeValueAsBytes(body);
        exchange.getResponseHeaders().add("Content-Type", status >= 400 ? "application/problem+json" : "application/json");
        exchange.sendResponseHeaders(status, bytes.length);
        exchange.getResponseBody().write(bytes);
    }

    @Override
    public void close() {
        heartbeating = false;
        heartbeats.shutdownNow();
        server.stop(0);
    }
}
