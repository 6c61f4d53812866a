package dev.flotilla.vmm;

/** Building a microVM failed; the message names the step ("memory", "devices", "kernel", ...) and why. */
public final class VmException extends Exception {

    private final String step;

    public VmException(String step, Throwable cause) {
        super("building the VM failed at step '" + step + "': " + cause.getMessage(), cause);
        this.step = step;
    }

    public String step() {
        return step;
    }
}
