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
 */
public final class NodeAgentPaths {
    public static final String SANDBOXES = "/v1/sandboxes";
    public static final String SANDBOX = "/v1/sandboxes/{sandboxId}";
    public static final String SANDBOX_STOP = "/v1/sandboxes/{sandboxId}/stop";

    private NodeAgentPaths() {
    }

    public static String sandbox(String sandboxId) {
        return SANDBOX.replace("{sandboxId}", sandboxId);
    }

    public static String stop(String sandboxId) {
        return SANDBOX_STOP.replace("{sandboxId}", sandboxId);
    }
}
