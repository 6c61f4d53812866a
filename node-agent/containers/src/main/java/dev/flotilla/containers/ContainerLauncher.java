package dev.flotilla.containers;

import dev.flotilla.vmm.GuestLoader;
import dev.flotilla.vmm.MicroVm;
import dev.flotilla.vmm.VmConfig;
import dev.flotilla.vmm.VmException;

import java.io.OutputStream;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Optional;

/**
 * "Run this image" end to end without a service around it: image ready, VM built with the root disk and vsock,
 * booted, agent reached, sandbox created, first container started. Each phase is timed, which is what the
 * container-start benchmark reports. The node agent does the same steps spread over its own lifecycle.
 */
public final class ContainerLauncher {

    /** A Linux guest to boot: kernel, initramfs, base command line, size. */
    public record Guest(Path kernel, Optional<Path> initrd, String cmdline, int vcpus, int memoryMib) {
    }

    /** Nanoseconds spent in each phase of one launch. */
    public record Phases(long rootfsNanos, long vmBootNanos, long agentReadyNanos, long containerStartNanos) {
        public long totalNanos() {
            return rootfsNanos + vmBootNanos + agentReadyNanos + containerStartNanos;
        }
    }

    /** A launched sandbox: its VM, its agent connection and its first container. Closing ends the VM. */
    public record Launched(MicroVm vm, ContainerSandbox sandbox, ContainerSandbox.Container container,
                           ContainerImages.RootImage image, Phases phases) implements AutoCloseable {
        @Override
        public void close() {
            sandbox.close();
            vm.close();
        }
    }

    private final ContainerImages images;
    private final Guest guest;
    private final GuestLoader loader;

    public ContainerLauncher(ContainerImages images, Guest guest, GuestLoader loader) {
        this.images = images;
        this.guest = guest;
        this.loader = loader;
    }

    /**
     * Runs {@code image} (its own command, or {@code command}) as container {@code containerId} in a new VM named
     * {@code name}; returns once the container started, or, with {@code firstOutput} set, once it printed its
     * first output (or ended), so that the last phase measures start to first line.
     */
    public Launched launch(String name, String image, List<String> command, OutputStream console, Duration timeout,
                           boolean firstOutput) throws InterruptedException {
        long t0 = System.nanoTime();
        ContainerImages.RootImage root = images.prepare(image);
        VmConfig.Builder config = VmConfig.builder().vcpus(guest.vcpus()).memoryMib(guest.memoryMib())
                .kernel(guest.kernel()).cmdline(GuestWiring.cmdline(guest.cmdline())).consoleOutput(console);
        guest.initrd().ifPresent(config::initrd);
        GuestWiring.attach(config, root.rootfs());
        long t1 = System.nanoTime();
        MicroVm vm;
        try {
            vm = MicroVm.create(config.build(), loader);
        } catch (VmException e) {
            throw new ContainerException("sandbox " + name + ": the VM could not be built: " + e.getMessage(), e);
        }
        ContainerSandbox sandbox = null;
        try {
            vm.start();
            long deadline = t1 + timeout.toNanos();
            while (vm.bootTimeNanos().isEmpty()) {
                if (vm.awaitExit(Duration.ofMillis(5)).isPresent()) {
                    throw new ContainerException("sandbox " + name + ": the VM ended before its guest signalled boot");
                }
                if (System.nanoTime() > deadline) {
                    throw new ContainerException("sandbox " + name + ": the guest did not signal boot within " + timeout);
                }
            }
            long t2 = System.nanoTime();
            sandbox = ContainerSandbox.connect(name, vm, root.image().config(), ContainerSandbox.Settings.hostname(name),
                    Duration.ofNanos(Math.max(1, deadline - t2)), ContainerSandbox.Events.NONE);
            long t3 = System.nanoTime();
            ContainerSandbox.Container c = sandbox.run("main", command, List.of());
            if (firstOutput) {
                long left = deadline - System.nanoTime();
                awaitFirstOutput(c.log(), Duration.ofNanos(Math.max(1, left)));
            }
            long t4 = System.nanoTime();
            return new Launched(vm, sandbox, c, root, new Phases(t1 - t0, t2 - t1, t3 - t2, t4 - t3));
        } catch (InterruptedException | RuntimeException e) {
            if (sandbox != null) {
                sandbox.close();
            }
            vm.close();
            throw e;
        }
    }

    private static void awaitFirstOutput(ContainerLog log, Duration timeout) throws InterruptedException {
        long deadline = System.nanoTime() + timeout.toNanos();
        synchronized (log) {
            while (log.snapshot().isEmpty() && !log.exit().isDone()) {
                long left = deadline - System.nanoTime();
                if (left <= 0) {
                    throw new ContainerException("the container printed nothing within " + timeout);
                }
                java.util.concurrent.TimeUnit.NANOSECONDS.timedWait(log, left);
            }
        }
    }
}
