package dev.flotilla.contract.v1;

/**
 * The sandbox API every node agent serves and the control plane calls, with
 * {@code Authorization: Bearer <agent token>} when the node registered one.
 *
 * <ul>
 *   <li>{@code PUT /v1/sandboxes/{id}} with {@link SandboxLaunch}: create and start the sandbox unless it already
 *       exists; answers {@link SandboxStatus} (201 when created, 200 when it existed).</li>
 *   <li>{@code POST /v1/sandboxes/{id}/stop}: stop it; answers {@link SandboxStatus}; 404 when unknown.</li>
 *   <li>{@code DELETE /v1/sandboxes/{id}}: stop and remove it; 204, also when it did not exist.</li>
 *   <li>{@code GET /v1/sandboxes/{id}}: its {@link SandboxStatus}; {@code GET /v1/sandboxes}: a {@link SandboxList}.</li>
 * </ul>
 * Errors are {@code application/problem+json} bodies ({@link Problem}).
 *
 * <p>The control plane also relays a sandbox's output to its users (API and dashboard) from the agent's node API,
 * version 1 ({@code /api/v1}), which knows the sandbox by the same id (the control plane's sandbox id, sent in every
 * launch):
 * <ul>
 *   <li>{@code GET /api/v1/sandboxes/{id}/console}: the retained serial console output (text, last 64 KiB).</li>
 *   <li>{@code GET /api/v1/sandboxes/{id}/console/ws} (WebSocket): the retained output, then live output as binary
 *       frames; closed with code 4404 when the sandbox is unknown.</li>
 *   <li>{@code GET /api/v1/sandboxes/{id}/containers/{container}/logs[?follow=true]}: a container's output (text);
 *       with {@code follow} the response streams until the container exits.</li>
 * </ul>
 */
public final class NodeAgentPaths {
    public static final String SANDBOXES = "/v1/sandboxes";
    public static final String SANDBOX = "/v1/sandboxes/{sandboxId}";
    public static final String SANDBOX_STOP = "/v1/sandboxes/{sandboxId}/stop";
    public static final String CONSOLE = "/api/v1/sandboxes/{sandboxId}/console";
    public static final String CONSOLE_WEBSOCKET = "/api/v1/sandboxes/{sandboxId}/console/ws";
    public static final String CONTAINER_LOGS = "/api/v1/sandboxes/{sandboxId}/containers/{containerId}/logs";
    /** The WebSocket close code the agent uses for a sandbox it does not know. */
    public static final int CONSOLE_UNKNOWN_SANDBOX = 4404;

    private NodeAgentPaths() {
    }

    public static String sandbox(String sandboxId) {
        return SANDBOX.replace("{sandboxId}", sandboxId);
    }

    public static String stop(String sandboxId) {
        return SANDBOX_STOP.replace("{sandboxId}", sandboxId);
    }

    public static String console(String sandboxId) {
        return CONSOLE.replace("{sandboxId}", sandboxId);
    }

    public static String consoleWebSocket(String sandboxId) {
        return CONSOLE_WEBSOCKET.replace("{sandboxId}", sandboxId);
    }

    public static String containerLogs(String sandboxId, String containerId) {
        return CONTAINER_LOGS.replace("{sandboxId}", sandboxId).replace("{containerId}", containerId);
    }
}
