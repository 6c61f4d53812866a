package dev.flotilla.agent.client;

import java.io.IOException;

/** Something went wrong talking to a guest agent; the subclasses say what. */
public class AgentException extends IOException {
    public AgentException(String message) {
        super(message);
    }

    public AgentException(String message, Throwable cause) {
        super(message, cause);
    }
}
