/**
 * The host side of the guest agent protocol: {@link dev.flotilla.agent.client.AgentClient}
 * drives the agent inside one microVM (guest/agent, C, PID 1's supervised child) over the VM's
 * vsock device, port {@value dev.flotilla.agent.client.AgentClient#AGENT_VSOCK_PORT}.
 *
 * <h2>Protocol</h2>
 * One schema, {@code guest/agent/proto/agent.proto}: nanopb generates the agent's C from it,
 * protoc (the protobuf-java release the Quarkus BOM manages) this module's
 * {@code dev.flotilla.agent.protocol} classes. Frames are a 4-byte big-endian length and one
 * message ({@link dev.flotilla.agent.client.Frames}); requests carry ids so any number can be in
 * flight; the first request is Hello, whose version both sides check. The agent decodes into
 * fixed-size C structs whose bounds live in {@code agent.options};
 * {@link dev.flotilla.agent.client.RequestLimits} reads the same file and refuses an oversized
 * request on the host, naming the field, instead of letting the agent drop the connection.
 *
 * <h2>Failure model</h2>
 * <ul>
 *   <li>{@link dev.flotilla.agent.client.AgentErrorException}: the agent refused or failed one
 *       request (its {@code ErrorCode} and sentence); the connection stays up.</li>
 *   <li>{@link dev.flotilla.agent.client.AgentTimeoutException}: no answer in time; the
 *       connection stays up and a late answer is dropped.</li>
 *   <li>{@link dev.flotilla.agent.client.AgentDisconnectedException}: the connection ended (agent
 *       killed, VM exited, client closed): every pending and later call fails with it, and
 *       every {@link dev.flotilla.agent.client.ProcessListener} hears {@code onDisconnected}.</li>
 *   <li>{@link dev.flotilla.agent.client.AgentProtocolException}: the peer broke the protocol
 *       (bad frame, unparsable message, other version); the connection is closed.</li>
 * </ul>
 * Cancelling a returned future stops waiting on the host; it does not undo the request in the
 * guest.
 */
package dev.flotilla.agent.client;
