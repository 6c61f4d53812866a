package dev.flotilla.controlplane.reconcile;

import com.fasterxml.jackson.databind.ObjectMapper;
import dev.flotilla.contract.v1.ContractVersion;
import dev.flotilla.contract.v1.NodeAgentPaths;
import dev.flotilla.contract.v1.SandboxLaunch;
import dev.flotilla.contract.v1.SandboxStatus;
import dev.flotilla.controlplane.config.FlotillaConfig;
import jakarta.annotation.PostConstruct;
import jakarta.inject.Inject;
import jakarta.inject.Singleton;

import java.io.IOException;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.time.Duration;

/** Calls a node agent's sandbox API ({@link NodeAgentPaths}). Every call is idempotent, so retrying is safe. */
@Singleton
public class AgentClient {
    @Inject
    ObjectMapper json;
    @Inject
    FlotillaConfig config;

    private HttpClient http;
    private Duration timeout;

    @PostConstruct
    void init() {
        timeout = config.reconciler().agentTimeout();
        http = HttpClient.newBuilder().connectTimeout(timeout).version(HttpClient.Version.HTTP_1_1).build();
    }

    /** PUT: creates and starts the sandbox unless the agent has it already. */
    public SandboxStatus launch(String endpoint, String token, SandboxLaunch launch) throws AgentCallException {
        HttpRequest.Builder request = request(endpoint, NodeAgentPaths.sandbox(launch.sandboxId()), token)
                .header("Content-Type", "application/json")
                .PUT(HttpRequest.BodyPublishers.ofByteArray(write(launch)));
        HttpResponse<byte[]> response = send(request, "launch sandbox " + launch.sandboxId());
        return read(response, "launch sandbox " + launch.sandboxId());
    }

    /** POST stop; null when the agent does not know the sandbox (nothing to stop). */
    public SandboxStatus stop(String endpoint, String token, String sandboxId) throws AgentCallException {
        HttpRequest.Builder request = request(endpoint, NodeAgentPaths.stop(sandboxId), token)
                .POST(HttpRequest.BodyPublishers.noBody());
        HttpResponse<byte[]> response = send(request, "stop sandbox " + sandboxId);
        if (response.statusCode() == 404) {
            return null;
        }
        return read(response, "stop sandbox " + sandboxId);
    }

    /** DELETE; succeeds also when the agent does not know the sandbox. */
    public void delete(String endpoint, String token, String sandboxId) throws AgentCallException {
        HttpRequest.Builder request = request(endpoint, NodeAgentPaths.sandbox(sandboxId), token).DELETE();
        HttpResponse<byte[]> response = send(request, "delete sandbox " + sandboxId);
        if (response.statusCode() != 404 && response.statusCode() / 100 != 2) {
            throw failure(response, "delete sandbox " + sandboxId);
        }
    }

    private HttpRequest.Builder request(String endpoint, String path, String token) {
        if (endpoint == null) {
            throw new IllegalArgumentException("the node registered no agent endpoint");
        }
        String base = endpoint.endsWith("/") ? endpoint.substring(0, endpoint.length() - 1) : endpoint;
        HttpRequest.Builder builder = HttpRequest.newBuilder(URI.create(base + path)).timeout(timeout)
                .header(ContractVersion.HEADER, ContractVersion.CURRENT).header("Accept", "application/json");
        if (token != null) {
            builder.header("Authorization", "Bearer " + token);
        }
        return builder;
    }

    private HttpResponse<byte[]> send(HttpRequest.Builder request, String what) throws AgentCallException {
        HttpRequest built = request.build();
        try {
            return http.send(built, HttpResponse.BodyHandlers.ofByteArray());
        } catch (IOException e) {
            throw new AgentCallException("node agent at " + built.uri().getAuthority() + " did not answer to " + what
                    + ": " + e, 0, e);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new AgentCallException("interrupted while calling the node agent to " + what, 0, e);
        }
    }

    private SandboxStatus read(HttpResponse<byte[]> response, String what) throws AgentCallException {
        if (response.statusCode() / 100 != 2) {
            throw failure(response, what);
        }
        try {
            return json.readValue(response.body(), SandboxStatus.class);
        } catch (IOException e) {
            throw new AgentCallException("node agent answered " + what + " with an unreadable body: " + e.getMessage(),
                    response.statusCode(), e);
        }
    }

    private static AgentCallException failure(HttpResponse<byte[]> response, String what) {
        String body = new String(response.body(), java.nio.charset.StandardCharsets.UTF_8);
        if (body.length() > 300) {
            body = body.substring(0, 300) + "...";
        }
        return new AgentCallException("node agent answered " + what + " with HTTP " + response.statusCode()
                + (body.isBlank() ? "" : ": " + body), response.statusCode(), null);
    }

    private byte[] write(Object value) {
        try {
            return json.writeValueAsBytes(value);
        } catch (IOException e) {
            throw new IllegalStateException("could not serialise " + value, e);
        }
    }
}
