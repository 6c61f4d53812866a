package dev.flotilla.agent.client;

/**
 * The connection to the agent ended: the agent died or closed it, the VM exited, or the client
 * was closed. Every call pending at that moment, and every later one, fails with this.
 */
public final class AgentDisconnectedException extends AgentException {
    public AgentDisconnectedException(String message, Throwable cause) {
        super(message, cause);
    }
}
