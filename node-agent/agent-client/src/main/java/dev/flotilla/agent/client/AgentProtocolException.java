package dev.flotilla.agent.client;

/**
 * The peer does not speak this protocol: a bad frame, an unparsable message, or another protocol
 * version. The connection is closed when this happens.
 */
public final class AgentProtocolException extends AgentException {
    public AgentProtocolException(String message) {
        super(message);
    }

    public AgentProtocolException(String message, Throwable cause) {
        super(message, cause);
    }
}
