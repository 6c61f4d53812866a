package dev.flotilla.cri.backend;

/**
 * Whether this node can run pod sandboxes now, for the CRI RuntimeReady condition. The node-agent answers from its
 * host detection (hardware KVM, PVM, the lab, none) and its sandbox runtime's health.
 */
@FunctionalInterface
public interface RuntimeReadiness {

    Condition check();

    /** A condition as the kubelet shows it: {@code reason} is CamelCase, {@code message} a sentence for operators. */
    record Condition(boolean ready, String reason, String message) {
        public static Condition isReady() {
            return new Condition(true, "", "");
        }

        public static Condition notReady(String reason, String message) {
            return new Condition(false, reason, message);
        }
    }
}
