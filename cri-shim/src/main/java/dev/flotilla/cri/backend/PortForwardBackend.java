package dev.flotilla.cri.backend;

import dev.flotilla.cri.v1.PortForwardRequest;

import java.net.InetSocketAddress;

/**
 * Where kubectl port-forward's connections go, for the shim's streaming server: a pod's port as this node reaches
 * it. Implemented by the node-agent with the address of the pod's microVM on the node's network.
 */
public interface PortForwardBackend {

    /** NOT_FOUND or FAILED_PRECONDITION (as a CriException) before a URL is handed out. */
    void checkPortForward(PortForwardRequest request);

    /** The pod's {@code port} as this node connects to it; a CriException when the pod cannot be reached. */
    InetSocketAddress target(String podSandboxId, int port);
}
