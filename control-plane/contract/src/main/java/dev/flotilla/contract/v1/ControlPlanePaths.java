package dev.flotilla.contract.v1;

/** Paths on the control plane that node agents call. */
public final class ControlPlanePaths {
    /** POST {@link NodeRegistration} with {@code Authorization: Bearer <join token>}; answers {@link NodeRegistrationAccepted}. */
    public static final String REGISTER = "/api/v1/nodes/register";
    /** POST {@link Heartbeat} with {@code Authorization: Bearer <node token>}; answers {@link HeartbeatAck}. */
    public static final String HEARTBEAT = "/api/v1/nodes/{nodeId}/heartbeat";

    private ControlPlanePaths() {
    }

    public static String heartbeat(String nodeId) {
        return HEARTBEAT.replace("{nodeId}", nodeId);
    }
}
