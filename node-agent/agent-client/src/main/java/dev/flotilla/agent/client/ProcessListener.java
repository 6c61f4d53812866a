package dev.flotilla.agent.client;

import dev.flotilla.agent.protocol.ExitStatus;
import dev.flotilla.agent.protocol.Stream;

/**
 * Receives one process's events. Called on the client's reader thread, in the order the agent
 * sent them (all output before the exit): implementations must return quickly and never call
 * back into the client synchronously.
 */
public interface ProcessListener {

    /** A chunk of stdout or stderr (with a terminal, everything arrives as stdout). */
    default void onOutput(Stream stream, byte[] data) {}

    /** The process ended; no more events follow. */
    default void onExit(ExitStatus status) {}

    /** The connection to the agent ended before the process did. */
    default void onDisconnected(AgentException cause) {}

    ProcessListener NONE = new ProcessListener() {};
}
