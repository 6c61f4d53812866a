package dev.flotilla.node.cri.cni;

/** A CNI configuration or plugin failed; the message names the plugin, the command and the plugin's own error. */
public class CniException extends RuntimeException {
    public CniException(String message) {
        super(message);
    }
}
