package dev.flotilla.vmm.sys;

/**
 * A libc call that failed. The message names the call, its context (which ioctl, which path) and
 * the errno with its text, e.g. {@code "ioctl(KVM_CREATE_VM) failed: errno 12 (Cannot allocate memory)"}.
 */
public final class SyscallException extends RuntimeException {

    private final String call;
    private final int errno;

    public SyscallException(String call, int errno) {
        super("%s failed: errno %d (%s)".formatted(call, errno, Libc.strerror(errno)));
        this.call = call;
        this.errno = errno;
    }

    /** The call as named in the message, e.g. {@code ioctl(KVM_RUN)}. */
    public String call() {
        return call;
    }

    public int errno() {
        return errno;
    }
}
