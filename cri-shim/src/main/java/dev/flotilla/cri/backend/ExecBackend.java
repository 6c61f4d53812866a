package dev.flotilla.cri.backend;

import dev.flotilla.cri.v1.ExecRequest;

/**
 * Runs the commands of Exec requests in containers, for the shim's streaming server
 * ({@link dev.flotilla.cri.streaming.StreamingServer}), which owns the kubelet's wire protocols (SPDY and WebSocket).
 * Implemented by the node-agent with the guest agent's interactive exec.
 */
public interface ExecBackend {

    /**
     * Checks that the request can run now (its container exists and runs), before a URL is handed out:
     * NOT_FOUND or FAILED_PRECONDITION as a {@link dev.flotilla.cri.CriException}.
     */
    void checkExec(ExecRequest request);

    /**
     * Starts the command once the client is connected. Output and the end arrive at {@code output}, from any
     * thread, in order; the returned process takes the client's input. Throws a CriException when the command
     * cannot start (the client is told why).
     */
    ExecProcess startExec(ExecRequest request, ExecOutput output);

    /** Where a running command's output goes. */
    interface ExecOutput {
        void stdout(byte[] data);

        void stderr(byte[] data);

        /** The command ended with this exit code (128 + signal when killed). Nothing follows. */
        void exited(int exitCode);

        /** The command was lost (its container or microVM went away). Nothing follows. */
        void failed(String message);
    }

    /** The client's side of a running command. Calls come from one thread at a time and may block briefly. */
    interface ExecProcess {
        void stdin(byte[] data);

        void closeStdin();

        void resize(int columns, int rows);

        /** The client went away before the command ended: stop it. */
        void cancel();
    }
}
