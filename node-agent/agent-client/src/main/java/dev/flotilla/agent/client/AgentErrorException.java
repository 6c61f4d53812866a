package dev.flotilla.agent.client;

import dev.flotilla.agent.protocol.ErrorCode;

/** The agent understood the request and refused or failed it: {@link #code()} says how. */
public final class AgentErrorException extends AgentException {
    private final ErrorCode code;
    private final String agentMessage;

    public AgentErrorException(String request, ErrorCode code, String agentMessage) {
        super("%s failed in the guest agent (%s): %s".formatted(request, code, agentMessage));
        this.code = code;
        this.agentMessage = agentMessage;
    }

    public ErrorCode code() {
        return code;
    }

    /** The agent's own sentence, without the request context. */
    public String agentMessage() {
        return agentMessage;
    }
}
