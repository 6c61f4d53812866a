/**
 * The boundary to native code, and the only package that uses restricted FFM operations
 * (linking, {@code reinterpret}). {@link dev.flotilla.vmm.sys.Libc} links each libc function once as
 * a static final method handle with errno captured by the linker, and turns failures into
 * {@link dev.flotilla.vmm.sys.SyscallException}s naming the call. {@link dev.flotilla.vmm.sys.KvmAbi}
 * holds the KVM structs and ioctl numbers, written by hand from the kernel headers and checked
 * against them by tests. {@link dev.flotilla.vmm.sys.KickSignal} is the handler-free signal used to
 * interrupt KVM_RUN.
 */
package dev.flotilla.vmm.sys;
