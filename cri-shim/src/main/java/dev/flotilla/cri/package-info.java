/**
 * The Kubernetes Container Runtime Interface (CRI v1) for Flotilla: the kubelet talks to it to run pods as
 * microVMs.
 *
 * <p>Layout, by feature:
 * <ul>
 *   <li>{@code src/main/proto/runtime/v1/api.proto}, generated into {@code dev.flotilla.cri.v1}: our own
 *       wire-compatible description of runtime.v1 (Kubernetes 1.36 field numbers).</li>
 *   <li>{@link dev.flotilla.cri.CriServer}: the gRPC server on the Unix socket; {@link dev.flotilla.cri.CriConfig}
 *       its settings.</li>
 *   <li>{@code service}: the two gRPC services. They validate requests, keep names unique, apply list filters and
 *       map {@link dev.flotilla.cri.CriException} reasons to gRPC status codes; they hold no pod state.</li>
 *   <li>{@code backend}: the seam. The node-agent implements these interfaces with its sandbox runtime (VMs,
 *       guest agent, CNI) and its image store. Until a part is attached, the calls
 *       needing it answer UNIMPLEMENTED.</li>
 *   <li>{@code streaming}: the kubelet's streaming server for Exec and Attach (SPDY/3.1 and WebSocket upgrades)
 *       and PortForward (SPDY/3.1), one-time URLs; through {@link dev.flotilla.cri.backend.ExecBackend},
 *       {@link dev.flotilla.cri.backend.AttachBackend} and {@link dev.flotilla.cri.backend.PortForwardBackend}.</li>
 *   <li>{@code logs}: the CRI log file format (used by the container backend) and ReopenContainerLog.</li>
 *   <li>{@code network}: the NetworkReady condition from the node's CNI configuration.</li>
 * </ul>
 *
 * <p>Who decides what: the shim owns the CRI contract (ids, validation, names, filters, error codes, log format);
 * backends own the objects. Backends therefore see only requests that already passed validation and ids the shim
 * generated (64 hex digits), and report failures as {@link dev.flotilla.cri.CriException} without any gRPC types.
 */
package dev.flotilla.cri;
