package dev.flotilla.cri.backend;

import dev.flotilla.cri.v1.AttachRequest;

/**
 * Joins a running container's main process for kubectl attach (and kubectl run -it), for the shim's streaming
 * server. Implemented by the node-agent: the process's output from now on, and its stdin when the container was
 * created with one.
 */
public interface AttachBackend {

    /** NOT_FOUND or FAILED_PRECONDITION (as a CriException) before a URL is handed out. */
    void checkAttach(AttachRequest request);

    /**
     * Joins the main process: its output arrives at {@code output} until it ends ({@code exited(0)}: an attach
     * succeeds however the container ends, as with the kubelet). The returned handle's {@code cancel} detaches
     * (the container keeps running); {@code closeStdin} ends the container's stdin only if it is stdin_once.
     */
    ExecBackend.ExecProcess startAttach(AttachRequest request, ExecBackend.ExecOutput output);
}
