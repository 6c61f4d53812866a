/**
 * A sandbox's output for its users, relayed from the node agent that runs it: the serial console (the agent's
 * WebSocket, retained output first) and container logs (the agent's followed HTTP response), as a text snapshot or
 * as server-sent events. The control plane holds no output itself; each request reads the node, with the agent token
 * the node registered. The agent knows a sandbox by the control plane's id, so no id mapping is kept.
 */
package dev.flotilla.controlplane.logs;
