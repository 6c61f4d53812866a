package dev.flotilla.vmm;

import dev.flotilla.vmm.arch.x86_64.Layout;
import dev.flotilla.vmm.arch.x86_64.MpTable;
import dev.flotilla.vmm.devices.virtio.VirtioDeviceConfig;

import java.io.InputStream;
import java.io.OutputStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Objects;
import java.util.Optional;

/**
 * What a microVM is made of, validated as a whole when constructed: every problem is reported in
 * one {@link IllegalArgumentException} before anything is created.
 *
 * @param vcpus         number of vCPUs, 1 to {@link #MAX_VCPUS}
 * @param memoryMib     guest RAM in MiB, {@link #MIN_MEMORY_MIB} to {@link #MAX_MEMORY_MIB}
 * @param kernel        an ELF vmlinux with a PVH note, or a bzImage
 * @param initrd        an optional initramfs
 * @param cmdline       the caller's kernel command line (console=ttyS0 and such); the VMM appends
 *                      what it owns (see {@link MicroVm#kernelCommandLine})
 * @param consoleOutput where the guest's serial console output goes
 * @param consoleInput  optional input for the serial console (polled, never blocked on)
 * @param devices       virtio devices, attached in this order (one virtio-mmio slot and IRQ each)
 * @param hugePages     back guest RAM with transparent huge pages (see {@link dev.flotilla.vmm.memory.GuestRam#allocate(long, boolean)})
 */
public record VmConfig(int vcpus, int memoryMib, Path kernel, Optional<Path> initrd, String cmdline,
                       OutputStream consoleOutput, Optional<InputStream> consoleInput,
                       List<VirtioDeviceConfig> devices, boolean hugePages) {

    /** Virtio IRQs run from {@link Layout#VIRTIO_IRQ_BASE} to the last IOAPIC pin the MP table routes. */
    public static final int MAX_VIRTIO_DEVICES = MpTable.IRQ_COUNT - Layout.VIRTIO_IRQ_BASE;

    /** The MP table and xAPIC ids the boot code writes comfortably cover this many. */
    public static final int MAX_VCPUS = 32;
    /** Below this a Linux guest with an initramfs does not get to init. */
    public static final int MIN_MEMORY_MIB = 16;
    /** 1 TiB: a guard against typos, far above what a microVM host offers. */
    public static final int MAX_MEMORY_MIB = 1 << 20;
    /** Room kept on the command line for what the VMM appends (its own options and device entries). */
    public static final int CMDLINE_RESERVED = 1024;

    public VmConfig {
        List<String> problems = new ArrayList<>();
        if (vcpus < 1 || vcpus > MAX_VCPUS) {
            problems.add("vcpus must be 1 to %d, not %d".formatted(MAX_VCPUS, vcpus));
        }
        if (memoryMib < MIN_MEMORY_MIB || memoryMib > MAX_MEMORY_MIB) {
            problems.add("memory must be %d to %d MiB, not %d".formatted(MIN_MEMORY_MIB, MAX_MEMORY_MIB, memoryMib));
        }
        if (kernel == null) {
            problems.add("a kernel is required");
        } else if (!Files.isRegularFile(kernel) || !Files.isReadable(kernel)) {
            problems.add("kernel " + kernel + " is not a readable file");
        }
        initrd = initrd == null ? Optional.empty() : initrd;
        if (initrd.isPresent() && (!Files.isRegularFile(initrd.get()) || !Files.isReadable(initrd.get()))) {
            problems.add("initrd " + initrd.get() + " is not a readable file");
        }
        cmdline = cmdline == null ? "" : cmdline.strip();
        if (cmdline.indexOf('\0') >= 0) {
            problems.add("the kernel command line must not contain NUL characters");
        }
        if (cmdline.length() > Layout.CMDLINE_MAX - CMDLINE_RESERVED) {
            problems.add("the kernel command line is %d characters; at most %d are allowed"
                    .formatted(cmdline.length(), Layout.CMDLINE_MAX - CMDLINE_RESERVED));
        }
        if (consoleOutput == null) {
            problems.add("a console output stream is required");
        }
        consoleInput = consoleInput == null ? Optional.empty() : consoleInput;
        devices = devices == null ? List.of() : List.copyOf(devices);
        if (devices.size() > MAX_VIRTIO_DEVICES) {
            problems.add("at most %d virtio devices fit the interrupt lines, not %d".formatted(MAX_VIRTIO_DEVICES, devices.size()));
        }
        if (devices.stream().filter(d -> d.kind().equals("vsock")).count() > 1) {
            problems.add("at most one vsock device per VM (a Linux guest uses only one)");
        }
        for (int i = 0; i < devices.size(); i++) {
            for (String p : devices.get(i).problems()) {
                problems.add("device %d (%s): %s".formatted(i, devices.get(i).kind(), p));
            }
        }
        if (!problems.isEmpty()) {
            throw new IllegalArgumentException("invalid VM configuration: " + String.join("; ", problems));
        }
    }

    public long memoryBytes() {
        return (long) memoryMib << 20;
    }

    public static Builder builder() {
        return new Builder();
    }

    /** Defaults: 1 vCPU, 128 MiB, no initrd, empty command line, console to stdout, no input. */
    public static final class Builder {
        private int vcpus = 1;
        private int memoryMib = 128;
        private Path kernel;
        private Path initrd;
        private String cmdline = "";
        private OutputStream consoleOutput = System.out;
        private InputStream consoleInput;
        private final List<VirtioDeviceConfig> devices = new ArrayList<>();
        private boolean hugePages;

        public Builder vcpus(int v) { this.vcpus = v; return this; }
        public Builder memoryMib(int v) { this.memoryMib = v; return this; }
        public Builder kernel(Path v) { this.kernel = v; return this; }
        public Builder initrd(Path v) { this.initrd = v; return this; }
        public Builder cmdline(String v) { this.cmdline = v; return this; }
        public Builder consoleOutput(OutputStream v) { this.consoleOutput = Objects.requireNonNull(v); return this; }
        public Builder consoleInput(InputStream v) { this.consoleInput = v; return this; }
        /** Adds a virtio device; devices get slots and IRQs in the order they are added. */
        public Builder device(VirtioDeviceConfig v) { this.devices.add(Objects.requireNonNull(v)); return this; }
        /** Transparent huge pages for guest RAM: faster Linux boots, less density for tiny guests. */
        public Builder hugePages(boolean v) { this.hugePages = v; return this; }

        public VmConfig build() {
            return new VmConfig(vcpus, memoryMib, kernel, Optional.ofNullable(initrd), cmdline, consoleOutput,
                    Optional.ofNullable(consoleInput), devices, hugePages);
        }
    }
}
