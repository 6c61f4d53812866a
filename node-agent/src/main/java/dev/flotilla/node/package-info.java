/**
 * The Flotilla node agent: one Quarkus service per host that embeds vmm-engine and owns every microVM there.
 *
 * <p>Packages by feature:
 * <ul>
 *   <li>{@code sandbox}: the heart. {@link dev.flotilla.node.sandbox.SandboxManager} admits a
 *       {@link dev.flotilla.node.sandbox.SandboxSpec} (validated by {@code SandboxValidator} from either API), reserves
 *       its vCPUs and memory in the {@code capacity} ledger, builds and starts a {@code MicroVm} in this JVM, watches
 *       it on a virtual thread (boot signal, end), and persists a {@code SandboxRecord} through {@code state} on every
 *       state change. The node's own REST API is {@code SandboxResource} ({@code /api/v1/sandboxes}).</li>
 *   <li>{@code contract}: contract v1 with the control plane: the {@code /v1/sandboxes} API it calls
 *       ({@code ContractSandboxResource}) and registration plus heartbeats ({@code ControlPlaneLink}).</li>
 *   <li>{@code vm}: guests: the Linux guest (kernel and initramfs from guest/build.sh) and the tiny guest, a few bytes
 *       of machine code that runs on any KVM, PVM included.</li>
 *   <li>{@code console}: serial output kept per VM and streamed over WebSocket; {@code network}: bridge, taps, address
 *       pool, nftables; {@code container}: the container runtime (image store, in-guest agent; module node-agent/containers) and its endpoints;
 *       {@code metrics}, {@code health}, {@code info}: observability; {@code api}: bearer auth and problem+json;
 *       {@code bench}, {@code cli}: the density benchmark and the command line, both plain HTTP clients.</li>
 * </ul>
 *
 * <p>Threads per VM: the engine's one platform thread per vCPU (plus an event loop when the VM has virtio devices);
 * the agent adds one virtual thread. Everything else (HTTP, heartbeats, metrics) is shared by all VMs.
 */
package dev.flotilla.node;
