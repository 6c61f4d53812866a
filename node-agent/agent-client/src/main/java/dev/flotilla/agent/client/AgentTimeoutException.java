package dev.flotilla.agent.client;

/** The agent did not answer a request in time. The connection stays usable; a late answer is dropped. */
public final class AgentTimeoutException extends AgentException {
    public AgentTimeoutException(String message) {
        super(message);
    }
}
