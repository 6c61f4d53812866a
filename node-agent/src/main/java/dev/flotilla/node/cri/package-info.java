/**
 * The Kubernetes CRI v1 endpoint of the node: the cri-shim library's {@link dev.flotilla.cri.CriServer}, started
 * by {@link dev.flotilla.node.cri.CriEndpoint} when {@code flotilla.node.cri.enabled=true}, with backends built on
 * this agent's own parts.
 *
 * <ul>
 *   <li>{@link dev.flotilla.node.cri.CriImages}: ImageService on the node's image store (the one sandboxes with an
 *   image use), so a pulled image boots without a registry round trip.</li>
 *   <li>{@link dev.flotilla.node.cri.CriPods}: a pod sandbox is one microVM of the
 *   {@link dev.flotilla.node.sandbox.SandboxManager} (same admission, records, metrics and shutdown as every
 *   other sandbox); its containers run inside it through the guest agent.</li>
 * </ul>
 *
 * <p>A VM has no disk hot-plug yet and its containers' roots are its read-only image disk, so a Linux pod's VM is
 * built when its first container is created, with that container's image; later containers of the pod must use
 * the same image (others are refused with FAILED_PRECONDITION). A {@code tiny} pod boots at RunPodSandbox and runs
 * no containers: it exists for hosts where Linux guests cannot run (PVM) and for tests.
 */
package dev.flotilla.node.cri;
