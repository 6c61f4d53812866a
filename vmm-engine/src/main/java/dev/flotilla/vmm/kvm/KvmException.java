package dev.flotilla.vmm.kvm;

/** KVM refused or lacks something the engine needs; the message says what and, where known, why. */
public class KvmException extends RuntimeException {
    public KvmException(String message) {
        super(message);
    }

    public KvmException(String message, Throwable cause) {
        super(message, cause);
    }
}
