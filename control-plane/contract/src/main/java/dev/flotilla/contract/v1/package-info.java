/**
 * Version 1 of the wire contract between Flotilla node agents and the control plane.
 *
 * <p>Two directions, both JSON over HTTP:
 * <ul>
 *   <li>node agent → control plane: {@link dev.flotilla.contract.v1.NodeRegistration} (authenticated with the
 *       fleet's join token) answered by {@link dev.flotilla.contract.v1.NodeRegistrationAccepted}, then periodic
 *       {@link dev.flotilla.contract.v1.Heartbeat}s (authenticated with the node token) answered by
 *       {@link dev.flotilla.contract.v1.HeartbeatAck}. Paths are in {@link dev.flotilla.contract.v1.ControlPlanePaths}.</li>
 *   <li>control plane → node agent: the sandbox API in {@link dev.flotilla.contract.v1.NodeAgentPaths}. Every call is
 *       idempotent because the control plane retries it: launching a sandbox that already runs answers its status,
 *       stopping a stopped one answers its status, deleting an unknown one answers 204.</li>
 * </ul>
 *
 * <p>Compatibility rules for this package: fields may be added (readers ignore unknown properties and writers omit
 * nulls), never renamed or re-typed; enum constants may be added, and readers map unknown ones to an
 * {@code UNKNOWN} constant. An incompatible change is a new package {@code v2}, served side by side.
 */
package dev.flotilla.contract.v1;
