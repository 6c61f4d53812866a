/**
 * Benchmarks behind {@code ./flotilla bench}, run from the engine's CLI:
 * <ul>
 *   <li>{@link dev.flotilla.vmm.bench.VmDensityBench} ({@code bench vm-density}): many tiny-guest VMs
 *       in one JVM through the real {@link dev.flotilla.vmm.MicroVm} build path, beside a raw-ioctl C
 *       baseline ({@code src/bench/c/raw_vm_density.c}) built and run with the same count and memory;</li>
 *   <li>{@link dev.flotilla.vmm.bench.BootBench} ({@code bench boot}): repeated Linux boots in one
 *       JVM (cold boot apart, p50/p95 over the warm ones), beside QEMU {@code -M microvm} booting the
 *       same kernel, initramfs and command line in the same environment;</li>
 *   <li>{@link dev.flotilla.vmm.bench.IoBench} ({@code bench io}): virtio-blk (guest {@code dd} with
 *       O_DIRECT) and virtio-vsock (guest echo stream to a host peer) throughput, beside QEMU
 *       {@code -M microvm} with {@code virtio-blk-device} and {@code vhost-vsock-device}.</li>
 * </ul>
 * All print figures as text and, with {@code --json FILE}, as one JSON object. Memory figures
 * come from the host's MemAvailable and the process's VmRSS, read the same way as the baseline reads them.
 */
package dev.flotilla.vmm.bench;
