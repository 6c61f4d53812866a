package dev.flotilla.cri.backend;

import dev.flotilla.cri.v1.AttachRequest;
import dev.flotilla.cri.v1.ExecRequest;
import dev.flotilla.cri.v1.PortForwardRequest;

/**
 * The node-agent's HTTP streaming server (the kubelet's "streaming server" protocol: SPDY or WebSocket upgrades
 * for exec, attach and port-forward). Each method registers a one-time session for the validated request and
 * returns its absolute URL, which the kubelet hands to the API server. Unknown container or sandbox: NOT_FOUND.
 */
public interface StreamingBackend {

    String execUrl(ExecRequest request);

    String attachUrl(AttachRequest request);

    String portForwardUrl(PortForwardRequest request);
}
