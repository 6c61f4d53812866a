package dev.flotilla.vmm;

import dev.flotilla.vmm.arch.x86_64.InitialCpuState;
import dev.flotilla.vmm.arch.x86_64.Layout;
import dev.flotilla.vmm.boot.BootSpec;
import dev.flotilla.vmm.boot.LinuxBoot;
import dev.flotilla.vmm.bus.Bus;
import dev.flotilla.vmm.devices.legacy.BootTimer;
import dev.flotilla.vmm.devices.legacy.I8042Controller;
import dev.flotilla.vmm.devices.legacy.Serial16550;
import dev.flotilla.vmm.devices.virtio.VirtioDevice;
import dev.flotilla.vmm.devices.virtio.mmio.MmioTransport;
import dev.flotilla.vmm.devices.virtio.vsock.VsockHost;
import dev.flotilla.vmm.kvm.BootMsrs;
import dev.flotilla.vmm.kvm.CpuidEntry;
import dev.flotilla.vmm.kvm.Kvm;
import dev.flotilla.vmm.kvm.KvmCapability;
import dev.flotilla.vmm.kvm.KvmVcpu;
import dev.flotilla.vmm.kvm.KvmVm;
import dev.flotilla.vmm.kvm.VcpuCpuid;
import dev.flotilla.vmm.kvm.VcpuExit;
import dev.flotilla.vmm.memory.GuestMemory;
import dev.flotilla.vmm.memory.GuestRam;
import dev.flotilla.vmm.memory.MemoryRegion;
import dev.flotilla.vmm.vcpu.ExitCounts;
import dev.flotilla.vmm.vcpu.Vcpu;
import dev.flotilla.vmm.vcpu.VcpuExitHandler;

import java.io.IOException;
import java.io.InputStream;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Optional;
import java.util.OptionalLong;
import java.util.Set;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;

/**
 * One microVM: built top to bottom by {@link #create} (KVM, memory, irqchip + PIT, devices,
 * guest load, vCPUs), then {@link #start}ed, {@link #pause}d, {@link #resume}d, {@link #stop}ped;
 * {@link #awaitExit} gives the {@link ExitReason}. {@link #close()} releases every thread, fd and
 * mapping it made. See the package documentation for the big picture.
 */
public final class MicroVm implements AutoCloseable {

    private static final System.Logger LOG = System.getLogger(MicroVm.class.getName());
    /** A vCPU on real hardware stops within microseconds; a nested lab host under load can stall for seconds. */
    private static final Duration VCPU_TIMEOUT = Duration.ofSeconds(15);

    /**
     * What the VMM appends to every command line because it is a fact of this machine: no PCI
     * bus, reboot through the i8042 (the only reset path), a panic reboots (and so ends the VM)
     * after a second instead of hanging, and an i8042 without mouse, multiplexer or PnP entry.
     */
    public static final List<String> VMM_CMDLINE = List.of(
            "reboot=k", "panic=1", "pci=off", "i8042.noaux", "i8042.nomux", "i8042.nopnp", "i8042.dumbkbd");

    public enum State { CREATED, RUNNING, PAUSED, ENDED, CLOSED }

    private final long startRequestNanos;
    private final List<AutoCloseable> resources = new ArrayList<>();
    private final CompletableFuture<ExitReason> exit = new CompletableFuture<>();
    private final List<Vcpu> vcpus = new ArrayList<>();
    private final Bus portIo = new Bus("port I/O");
    private final Bus mmio = new Bus("MMIO");
    private final VmConfig config;
    private GuestRam ram;
    private Serial16550 serial;
    private BootTimer bootTimer;
    private VirtioDevices virtio;
    /** The virtio devices, kept past close() (which detaches them) so their final counts stay readable. */
    private List<VirtioDevice> virtioDevices = List.of();
    private volatile long firstRunNanos = -1;
    private Thread inputPump;
    private volatile boolean closing;
    private State state = State.CREATED;

    private MicroVm(VmConfig config, long startRequestNanos) {
        this.config = config;
        this.startRequestNanos = startRequestNanos;
    }

    /** Builds a VM that boots Linux with {@link LinuxBoot}. */
    public static MicroVm create(VmConfig config) throws VmException {
        return create(config, LinuxBoot::load);
    }

    /** Builds a VM whose guest {@code loader} puts into memory. The time of this call is the start request. */
    public static MicroVm create(VmConfig config, GuestLoader loader) throws VmException {
        MicroVm vm = new MicroVm(config, System.nanoTime());
        try {
            vm.build(loader);
            return vm;
        } catch (VmException e) {
            vm.close();
            throw e;
        } catch (RuntimeException | Error e) {
            vm.close();
            throw e;
        }
    }

    /**
     * Pays the once-per-JVM cost of the first build ahead of time: opens and checks the shared
     * /dev/kvm fd, which loads the KVM classes and links the first native calls. A service that
     * starts VMs on request calls this at startup, so that the first request is a warm one.
     */
    public static void warmUp() throws VmException {
        step("kvm", KvmSystem::get);
    }

    private void build(GuestLoader loader) throws VmException {
        KvmSystem kvm = step("kvm", KvmSystem::get);
        KvmVm vm = step("vm", () -> {
            KvmVm v = kvm.kvm().createVm();
            resources.add(v);
            // Intel needs these three pages outside RAM and MMIO; AMD accepts and ignores them.
            if (kvm.identityMapAddress()) {
                v.setIdentityMapAddress(Layout.KVM_IDENTITY_MAP_ADDR);
            }
            if (kvm.tssAddress()) {
                v.setTssAddress(Layout.KVM_TSS_ADDR);
            }
            return v;
        });
        step("memory", () -> {
            ram = GuestRam.allocate(config.memoryBytes(), config.hugePages());
            resources.add(0, ram); // released last, after the VM that maps it
            int slot = 0;
            for (MemoryRegion r : ram.regions()) {
                vm.setUserMemoryRegion(slot++, r.guestAddress(), r.segment());
            }
            return null;
        });
        step("irqchip", () -> {
            vm.createIrqchip();
            vm.createPit2();
            return null;
        });
        List<String> deviceCmdline = step("devices", () -> {
            List<String> entries = new ArrayList<>(attachLegacyDevices(vm));
            if (!config.devices().isEmpty()) {
                virtio = new VirtioDevices(vm, ram.memory(), kvm.kvm().checkExtension(KvmCapability.IOEVENTFD) > 0,
                        kvm.kvm().checkExtension(KvmCapability.IRQFD) > 0, "vm");
                resources.add(virtio); // closed before the VM fd and the memory its I/O targets
                entries.addAll(virtio.attachAll(config.devices(), mmio));
                virtioDevices = List.copyOf(virtio.devices());
            }
            return entries;
        });
        InitialCpuState boot = step("kernel", () -> loader.load(ram.memory(), new BootSpec(config.kernel(),
                config.initrd(), kernelCommandLine(config.cmdline(), deviceCmdline), config.vcpus())));
        step("vcpus", () -> {
            List<CpuidEntry> cpuid = kvm.cpuid();
            for (int id = 0; id < config.vcpus(); id++) {
                KvmVcpu v = vm.createVcpu(id);
                v.setCpuid(VcpuCpuid.forVcpu(cpuid, id, config.vcpus()));
                v.setMsrs(BootMsrs.entries());
                v.configureLocalInterrupts();
                if (id == 0) {
                    // Application processors wait for INIT/SIPI from the guest in the in-kernel LAPIC.
                    v.applyInitialState(boot);
                }
                vcpus.add(new Vcpu(v, portIo, mmio, new ExitHandler(), "vcpu-" + id));
            }
            return null;
        });
    }

    /**
     * The process's one /dev/kvm fd with what every VM build asks of it, checked and fetched once:
     * opening the device, checking capabilities and KVM_GET_SUPPORTED_CPUID per VM cost more than
     * creating the VM itself. Never closed (VMs keep their own references to the module).
     */
    private record KvmSystem(Kvm kvm, boolean identityMapAddress, boolean tssAddress, List<CpuidEntry> cpuid) {
        private static volatile KvmSystem shared;

        static KvmSystem get() {
            KvmSystem s = shared;
            if (s != null) {
                return s;
            }
            synchronized (KvmSystem.class) {
                if (shared == null) {
                    Kvm k = Kvm.open();
                    try {
                        k.requireCapabilities(KvmCapability.IRQCHIP, KvmCapability.USER_MEMORY, KvmCapability.PIT2,
                                KvmCapability.EXT_CPUID, KvmCapability.IMMEDIATE_EXIT);
                        shared = new KvmSystem(k, k.checkExtension(KvmCapability.SET_IDENTITY_MAP_ADDR) > 0,
                                k.checkExtension(KvmCapability.SET_TSS_ADDR) > 0,
                                VcpuCpuid.withHostFeatures(k.supportedCpuid(),
                                        k.checkExtension(KvmCapability.TSC_DEADLINE_TIMER) > 0));
                    } catch (RuntimeException e) {
                        k.close();
                        throw e;
                    }
                }
                return shared;
            }
        }
    }

    private interface Step<T> {
        T run() throws Exception;
    }

    private static <T> T step(String name, Step<T> step) throws VmException {
        long begin = System.nanoTime();
        try {
            return step.run();
        } catch (Exception e) {
            throw new VmException(name, e);
        } finally {
            if (TRACE_STEPS) {
                System.err.printf("flotilla-vmm: step %s took %.1f ms%n", name, (System.nanoTime() - begin) / 1e6);
            }
        }
    }

    /** -Dflotilla.vmm.traceSteps=true prints how long each build step took (for boot-time work). */
    private static final boolean TRACE_STEPS = Boolean.getBoolean("flotilla.vmm.traceSteps");

    /** COM1, the i8042 and the boot timer; returns their kernel command line entries (none). */
    private List<String> attachLegacyDevices(KvmVm vm) {
        serial = new Serial16550(vm.irqLine(Layout.COM1_IRQ), config.consoleOutput());
        portIo.register(Layout.COM1_PORT, 8, serial, "COM1 (16550)");
        I8042Controller i8042 = new I8042Controller(vm.irqLine(1),
                () -> end(new ExitReason.GuestReset("i8042 reset")));
        portIo.register(Layout.I8042_DATA_PORT, Layout.I8042_COMMAND_PORT - Layout.I8042_DATA_PORT + 1, i8042, "i8042");
        bootTimer = new BootTimer(startRequestNanos);
        mmio.register(Layout.BOOT_TIMER_ADDR, Layout.BOOT_TIMER_SIZE, bootTimer, "boot timer");
        return List.of();
    }

    /**
     * The command line the guest gets: the caller's, then {@link #VMM_CMDLINE} options the caller
     * did not set themselves, then the devices' entries.
     */
    public static String kernelCommandLine(String user, List<String> deviceEntries) {
        Set<String> userKeys = new HashSet<>();
        for (String token : user.strip().split("\\s+")) {
            if (!token.isEmpty()) {
                userKeys.add(token.split("=", 2)[0]);
            }
        }
        StringBuilder sb = new StringBuilder(user.strip());
        for (String option : VMM_CMDLINE) {
            if (!userKeys.contains(option.split("=", 2)[0])) {
                sb.append(sb.isEmpty() ? "" : " ").append(option);
            }
        }
        for (String entry : deviceEntries) {
            sb.append(sb.isEmpty() ? "" : " ").append(entry);
        }
        return sb.toString();
    }

    private final class ExitHandler implements VcpuExitHandler {
        @Override
        public Action onExit(int vcpuId, VcpuExit vcpuExit) {
            ExitReason reason = switch (vcpuExit) {
                case VcpuExit.Shutdown s -> new ExitReason.GuestShutdown("triple fault on vCPU " + vcpuId
                        + (s.cpuState().isEmpty() ? "" : " (" + s.cpuState() + ")"));
                case VcpuExit.SystemEvent e when e.type() == 2 -> new ExitReason.GuestReset("system event");
                case VcpuExit.SystemEvent e when e.type() == 1 -> new ExitReason.GuestShutdown("power off");
                case VcpuExit.Halt h -> new ExitReason.GuestShutdown("HLT on vCPU " + vcpuId);
                default -> new ExitReason.Error("vCPU " + vcpuId + ": " + vcpuExit.describe());
            };
            end(reason);
            return Action.STOP;
        }

        @Override
        public void onError(int vcpuId, Throwable error) {
            end(new ExitReason.Error("vCPU " + vcpuId + " failed: " + error));
        }

        @Override
        public void onFirstRun(int vcpuId, long nanoTime) {
            if (vcpuId == 0) {
                firstRunNanos = nanoTime;
            }
        }
    }

    /** Records why the VM ends (the first reason wins) and tells every vCPU to stop, without waiting. */
    private void end(ExitReason reason) {
        if (exit.complete(reason)) {
            LOG.log(System.Logger.Level.INFO, "VM ended: " + reason.describe());
            synchronized (this) {
                if (state != State.CLOSED) {
                    state = State.ENDED;
                }
            }
            for (Vcpu v : vcpus) {
                v.requestStop();
            }
        }
    }

    /** Starts every vCPU (and the console input pump, if there is input). */
    public synchronized void start() {
        if (state != State.CREATED) {
            throw new IllegalStateException("the VM was already started (state " + state + ")");
        }
        state = State.RUNNING;
        config.consoleInput().ifPresent(this::startInputPump);
        for (Vcpu v : vcpus) {
            v.start();
        }
    }

    /** Pauses every vCPU; returns once none runs guest code. */
    public synchronized void pause() throws TimeoutException {
        if (state != State.RUNNING) {
            throw new IllegalStateException("only a running VM can be paused (state " + state + ")");
        }
        for (Vcpu v : vcpus) {
            v.pause(VCPU_TIMEOUT);
        }
        state = State.PAUSED;
    }

    public synchronized void resume() {
        if (state != State.PAUSED) {
            throw new IllegalStateException("only a paused VM can be resumed (state " + state + ")");
        }
        for (Vcpu v : vcpus) {
            v.resume();
        }
        state = State.RUNNING;
    }

    /** Ends the VM from the host and waits for its vCPU threads. */
    public void stop() throws TimeoutException {
        end(new ExitReason.StoppedByHost());
        for (Vcpu v : vcpus) {
            v.stop(VCPU_TIMEOUT);
        }
    }

    public synchronized State state() {
        return state;
    }

    /** Waits for the VM to end. */
    public ExitReason awaitExit() throws InterruptedException {
        try {
            return exit.get();
        } catch (ExecutionException e) {
            throw new IllegalStateException(e.getCause());
        }
    }

    /** Waits up to {@code timeout}; empty if the VM is still running. */
    public Optional<ExitReason> awaitExit(Duration timeout) throws InterruptedException {
        try {
            return Optional.of(exit.get(timeout.toNanos(), TimeUnit.NANOSECONDS));
        } catch (TimeoutException e) {
            return Optional.empty();
        } catch (ExecutionException e) {
            throw new IllegalStateException(e.getCause());
        }
    }

    /**
     * The virtio-mmio transport of device {@code name} ("blk0", "rng0": kind and index within its
     * kind, in configuration order), to observe its status and queue metrics.
     */
    public MmioTransport virtioTransport(String name) {
        if (virtio == null) {
            throw new IllegalArgumentException("this VM has no virtio devices");
        }
        return virtio.transport(name);
    }

    /**
     * The host end of the VM's vsock device (the JVM is CID 2), when it has one: connect to guest
     * ports and listen for guest connections from any thread. Connections end with an error once
     * the VM is closed.
     */
    public Optional<VsockHost> vsock() {
        if (virtio != null) {
            for (VirtioDevice d : virtio.devices()) {
                if (d instanceof VsockHost host) {
                    return Optional.of(host);
                }
            }
        }
        return Optional.empty();
    }

    /** Nanoseconds from the start request to the guest's boot-timer write, once it happened. */
    /**
     * The virtio device {@code name} ("balloon0", "net0"), as {@code type}: the host's handle on
     * it (e.g. {@code VirtioBalloon.setTargetMiB}). Fails when there is none or it is another kind.
     */
    public <T extends dev.flotilla.vmm.devices.virtio.VirtioDevice> T virtioDevice(String name, Class<T> type) {
        if (virtio == null) {
            throw new IllegalArgumentException("this VM has no virtio devices");
        }
        dev.flotilla.vmm.devices.virtio.VirtioDevice d = virtio.device(name);
        if (!type.isInstance(d)) {
            throw new IllegalArgumentException("virtio device %s is a %s, not a %s".formatted(name, d.getClass().getSimpleName(), type.getSimpleName()));
        }
        return type.cast(d);
    }

    public OptionalLong bootTimeNanos() {
        return bootTimer == null ? OptionalLong.empty() : bootTimer.bootNanos();
    }

    /** Nanoseconds from the start request to the boot vCPU's first KVM_RUN. */
    public OptionalLong timeToFirstRunNanos() {
        long f = firstRunNanos;
        return f < 0 ? OptionalLong.empty() : OptionalLong.of(f - startRequestNanos);
    }

    /**
     * vCPU exits so far, by reason, summed over the vCPUs. Safe from any thread, also after the VM
     * ended or closed (the counts then stay final); a running VM's counts may lag by a few exits.
     */
    public ExitCounts exitCounts() {
        ExitCounts sum = ExitCounts.ZERO;
        for (Vcpu v : vcpus) {
            sum = sum.plus(v.exitCounts());
        }
        return sum;
    }

    /**
     * Guest I/O through the VM's virtio block and network devices so far. Safe from any thread, also
     * after the VM closed (the counts then stay final).
     */
    public DeviceIoCounts deviceIoCounts() {
        long requests = 0, read = 0, written = 0, rx = 0, tx = 0;
        for (VirtioDevice d : virtioDevices) {
            if (d instanceof dev.flotilla.vmm.devices.virtio.blk.VirtioBlock b) {
                requests += b.requests();
                read += b.bytesRead();
                written += b.bytesWritten();
            } else if (d instanceof dev.flotilla.vmm.devices.virtio.net.VirtioNet n) {
                rx += n.rxBytes();
                tx += n.txBytes();
            }
        }
        return new DeviceIoCounts(requests, read, written, rx, tx);
    }

    /**
     * The guest's memory (for tests and tools that inspect it); after {@link #close()} every access
     * throws IllegalStateException.
     */
    public GuestMemory memory() {
        return ram.memory();
    }

    /** Bytes of guest RAM resident in host memory now (see {@link GuestRam#residentBytes()}). */
    public long residentMemoryBytes() {
        return ram.residentBytes();
    }

    /** Console input for the guest; returns how many bytes the UART's FIFO took. */
    public int sendConsoleInput(byte[] data, int offset, int length) {
        return serial.enqueueInput(data, offset, length);
    }

    private void startInputPump(InputStream in) {
        inputPump = Thread.ofPlatform().name("console-input").daemon(true).start(() -> pumpInput(in));
    }

    /** Polls instead of blocking in read(), so that close() can always end this thread. */
    private void pumpInput(InputStream in) {
        byte[] buf = new byte[Serial16550.RX_FIFO_CAPACITY];
        int pending = 0;
        try {
            while (!closing && !exit.isDone()) {
                if (pending == 0) {
                    int available = in.available();
                    if (available > 0) {
                        pending = in.read(buf, 0, Math.min(buf.length, available));
                        if (pending < 0) {
                            return;
                        }
                    }
                }
                if (pending > 0) {
                    int taken = serial.enqueueInput(buf, 0, pending);
                    System.arraycopy(buf, taken, buf, 0, pending - taken);
                    pending -= taken;
                }
                if (pending > 0 || in.available() == 0) {
                    Thread.sleep(5);
                }
            }
        } catch (IOException e) {
            LOG.log(System.Logger.Level.WARNING, "console input ended: " + e.getMessage());
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }

    /** Stops the VM if it runs, then releases vCPU threads, fds and memory. Idempotent. */
    @Override
    public void close() {
        synchronized (this) {
            if (state == State.CLOSED) {
                return;
            }
        }
        closing = true;
        if (!exit.isDone()) {
            if (state() == State.CREATED) {
                exit.complete(new ExitReason.StoppedByHost()); // never ran: nothing to report
            } else {
                end(new ExitReason.StoppedByHost());
            }
        }
        RuntimeException failure = null;
        for (Vcpu v : vcpus) {
            try {
                v.stop(VCPU_TIMEOUT);
            } catch (TimeoutException e) {
                // A vCPU that does not stop keeps its fds; closing them under it would be worse.
                failure = new IllegalStateException("cannot release the VM: " + e.getMessage(), e);
            }
        }
        if (inputPump != null) {
            try {
                inputPump.join(1000);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
            }
        }
        if (failure == null) {
            for (int i = resources.size() - 1; i >= 0; i--) {
                try {
                    resources.get(i).close();
                } catch (Exception e) {
                    failure = new IllegalStateException("releasing the VM failed: " + e.getMessage(), e);
                }
            }
        }
        synchronized (this) {
            state = State.CLOSED;
        }
        if (failure != null) {
            throw failure;
        }
    }
}
