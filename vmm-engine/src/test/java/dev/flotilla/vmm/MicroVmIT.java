package dev.flotilla.vmm;

import dev.flotilla.vmm.arch.x86_64.Layout;
import dev.flotilla.vmm.testing.KvmAvailable;
import dev.flotilla.vmm.testing.TinyGuests;
import dev.flotilla.vmm.devices.virtio.blk.BlockDeviceConfig;
import dev.flotilla.vmm.devices.virtio.rng.RngDeviceConfig;
import dev.flotilla.vmm.devices.virtio.vsock.VsockDeviceConfig;
import dev.flotilla.vmm.devices.virtio.vsock.VsockHost;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.net.ConnectException;
import java.net.SocketTimeoutException;
import java.lang.management.ManagementFactory;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Optional;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * The facade on this host's real KVM, with tiny machine-code guests as the "kernel" file: a flat
 * binary loaded at {@link TinyGuests#ENTRY} in real mode, instead of Linux (which cannot boot on
 * PVM; Linux boots are the E2E suites' job). Everything else is the production path: KVM checks,
 * memory, irqchip + PIT, devices, CPUID/MSRs/LAPIC, vCPU threads.
 */
class MicroVmIT {

    private static final Duration TIMEOUT = Duration.ofSeconds(10);

    @TempDir
    Path dir;

    @BeforeEach
    void requireKvm() {
        KvmAvailable.assumeKvm();
    }

    private static final GuestLoader FLAT_REAL_MODE = (memory, spec) -> {
        byte[] code = Files.readAllBytes(spec.kernel());
        memory.write(TinyGuests.ENTRY, code, 0, code.length);
        return TinyGuests.realMode(TinyGuests.ENTRY, 0);
    };

    private VmConfig config(byte[] guest, int vcpus, ByteArrayOutputStream console) throws IOException {
        Path kernel = dir.resolve("guest.bin");
        Files.write(kernel, guest);
        return VmConfig.builder().kernel(kernel).vcpus(vcpus).memoryMib(16).consoleOutput(console).build();
    }

    /**
     * <pre>  mov $0x3f8,%dx ; mov $'O',%al ; out %al,%dx ; mov $'K',%al ; out %al,%dx ; mov $0xfe,%al ; out %al,$0x64 ; hlt</pre>
     * "OK" on COM1, then a reset through the i8042.
     */
    private static final byte[] CONSOLE_THEN_RESET = {(byte) 0xba, (byte) 0xf8, 0x03, (byte) 0xb0, 'O', (byte) 0xee,
            (byte) 0xb0, 'K', (byte) 0xee, (byte) 0xb0, (byte) 0xfe, (byte) 0xe6, 0x64, (byte) 0xf4};

    @Test
    void guestResetThroughI8042_endsVmWithGuestReset() throws Exception {
        ByteArrayOutputStream console = new ByteArrayOutputStream();
        try (MicroVm vm = MicroVm.create(config(CONSOLE_THEN_RESET, 1, console), FLAT_REAL_MODE)) {
            vm.start();
            Optional<ExitReason> reason = vm.awaitExit(TIMEOUT);
            assertEquals(Optional.of(new ExitReason.GuestReset("i8042 reset")), reason);
            assertEquals("OK", console.toString());
            assertTrue(vm.timeToFirstRunNanos().isPresent());
            assertTrue(vm.timeToFirstRunNanos().getAsLong() > 0);
        }
    }

    @Test
    void exitCounts_afterClose_holdTheGuestsThreePortWrites() throws Exception {
        MicroVm closed;
        try (MicroVm vm = MicroVm.create(config(CONSOLE_THEN_RESET, 1, new ByteArrayOutputStream()), FLAT_REAL_MODE)) {
            vm.start();
            assertTrue(vm.awaitExit(TIMEOUT).isPresent());
            closed = vm;
        }
        // 'O' and 'K' to COM1, then the reset request to the i8042: the VM ends inside the third exit.
        assertEquals(new dev.flotilla.vmm.vcpu.ExitCounts(3, 0, 0, 0, 0, 0), closed.exitCounts());
        assertEquals(DeviceIoCounts.ZERO, closed.deviceIoCounts());
    }

    @Test
    void stop_guestHaltedInKernel_endsWithStoppedByHost() throws Exception {
        try (MicroVm vm = MicroVm.create(config(TinyGuests.REPORT_THEN_HALT, 1, new ByteArrayOutputStream()), FLAT_REAL_MODE)) {
            vm.start();
            assertEquals(Optional.empty(), vm.awaitExit(Duration.ofMillis(200)));
            vm.stop();
            assertEquals(new ExitReason.StoppedByHost(), vm.awaitExit());
        }
    }

    @Test
    void twoVcpus_applicationProcessorWaitingForSipi_stillStops() throws Exception {
        try (MicroVm vm = MicroVm.create(config(TinyGuests.SPIN_COUNTER, 2, new ByteArrayOutputStream()), FLAT_REAL_MODE)) {
            vm.start();
            assertEquals(Optional.empty(), vm.awaitExit(Duration.ofMillis(200)));
            assertTrue(vm.memory().readInt(0x2000) != 0, "the boot vCPU runs the guest");
            vm.stop();
            assertEquals(new ExitReason.StoppedByHost(), vm.awaitExit());
        }
    }

    @Test
    void pauseResume_spinningGuest_freezesAndContinues() throws Exception {
        try (MicroVm vm = MicroVm.create(config(TinyGuests.SPIN_COUNTER, 1, new ByteArrayOutputStream()), FLAT_REAL_MODE)) {
            vm.start();
            Thread.sleep(100);
            vm.pause();
            int frozen = vm.memory().readInt(0x2000);
            Thread.sleep(100);
            assertEquals(frozen, vm.memory().readInt(0x2000));
            vm.resume();
            Thread.sleep(100);
            assertTrue(vm.memory().readInt(0x2000) != frozen);
        }
    }

    @Test
    void bootTimer_magicWrite_givesBootTime() throws Exception {
        // Real mode reaches 0xC0000000 with 32-bit addressing (address-size prefix) once DS's hidden
        // limit is 4 GiB ("unreal mode"), which this loader sets up.
        byte[] guest = {0x66, (byte) 0xbb, 0x00, 0x00, 0x00, (byte) 0xc0,   // mov $0xc0000000, %ebx
                0x67, (byte) 0xc6, 0x03, 123,                                  // movb $123, (%ebx)
                (byte) 0xb0, (byte) 0xfe, (byte) 0xe6, 0x64, (byte) 0xf4};     // i8042 reset
        GuestLoader unreal = (memory, spec) -> {
            byte[] code = Files.readAllBytes(spec.kernel());
            memory.write(TinyGuests.ENTRY, code, 0, code.length);
            var s = TinyGuests.realMode(TinyGuests.ENTRY, 0);
            var flatDs = new dev.flotilla.vmm.arch.x86_64.Segment(0, 0xFFFF_FFFF, 0, 3, true, 0, false, true, false, true, false);
            return new dev.flotilla.vmm.arch.x86_64.InitialCpuState(s.rip(), s.rsp(), s.rsi(), s.rbx(), s.rflags(),
                    s.cr0(), s.cr3(), s.cr4(), s.efer(), s.cs(), flatDs, s.es(), s.fs(), s.gs(), s.ss(), s.tr(), s.ldt(),
                    s.gdtBase(), s.gdtLimit(), s.idtBase(), s.idtLimit());
        };
        assertEquals(0xC000_0000L, Layout.BOOT_TIMER_ADDR);
        try (MicroVm vm = MicroVm.create(config(guest, 1, new ByteArrayOutputStream()), unreal)) {
            vm.start();
            assertInstanceOf(ExitReason.GuestReset.class, vm.awaitExit(TIMEOUT).orElseThrow());
            assertTrue(vm.bootTimeNanos().isPresent(), "the boot timer saw the magic write");
            assertTrue(vm.bootTimeNanos().getAsLong() >= vm.timeToFirstRunNanos().getAsLong());
        }
    }

    @Test
    void create_loaderFails_reportsTheStepAndReleasesEverything() throws Exception {
        MicroVm.warmUp(); // the process's one shared /dev/kvm fd is not the VM's to release
        long fdsBefore = openFds();
        VmConfig config = config(new byte[16], 1, new ByteArrayOutputStream());
        VmException e = assertThrows(VmException.class, () -> MicroVm.create(config, (m, s) -> {
            throw new dev.flotilla.vmm.boot.BootException("kernel " + s.kernel() + " is not bootable");
        }));
        assertEquals("kernel", e.step());
        assertTrue(e.getMessage().contains("is not bootable"), e.getMessage());
        assertEquals(fdsBefore, openFds());
    }

    @Test
    void twentyCreateRunCloseCycles_leakNoFdsOrThreads() throws Exception {
        // Warm up once so lazily created JVM threads and fds are not counted as leaks.
        runOnce();
        long fds = openFds();
        int threads = ManagementFactory.getThreadMXBean().getThreadCount();
        for (int i = 0; i < 20; i++) {
            runOnce();
        }
        assertEquals(fds, openFds(), "open fds after 20 VMs");
        assertEquals(threads, ManagementFactory.getThreadMXBean().getThreadCount(), "live threads after 20 VMs");
    }

    @Test
    void twentyCyclesWithVirtioDevices_leakNoEventLoopIoeventfdIrqfdImageOrBridgeFds() throws Exception {
        Path disk = dir.resolve("disk.img");
        Files.write(disk, new byte[1 << 20]);
        runWithVirtio(disk);
        long fds = openFds();
        int threads = ManagementFactory.getThreadMXBean().getThreadCount();
        for (int i = 0; i < 20; i++) {
            runWithVirtio(disk);
        }
        assertEquals(fds, openFds(), "open fds after 20 VMs with virtio devices");
        assertEquals(threads, ManagementFactory.getThreadMXBean().getThreadCount(), "live threads after 20 VMs");
    }

    @Test
    void virtioDevices_getMmioSlotsIrqsAndCommandLineEntries() throws Exception {
        Path disk = dir.resolve("disk.img");
        Files.write(disk, new byte[1 << 20]);
        VmConfig base = config(TinyGuests.REPORT_THEN_HALT, 1, new ByteArrayOutputStream());
        VmConfig config = VmConfig.builder().kernel(base.kernel()).memoryMib(16).consoleOutput(new ByteArrayOutputStream())
                .device(BlockDeviceConfig.of(disk, false)).device(new RngDeviceConfig()).build();
        String[] cmdline = new String[1];
        try (MicroVm vm = MicroVm.create(config, (m, s) -> {
            cmdline[0] = s.cmdline();
            return FLAT_REAL_MODE.load(m, s);
        })) {
            assertEquals(2, vm.virtioTransport("blk0").read(0x008, 4), "device id at the first slot");
            assertEquals(4, vm.virtioTransport("rng0").read(0x008, 4));
        }
        assertTrue(cmdline[0].contains("virtio_mmio.device=4K@0xc0001000:5"), cmdline[0]);
        assertTrue(cmdline[0].contains("virtio_mmio.device=4K@0xc0002000:6"), cmdline[0]);
    }

    @Test
    void vsock_configured_isReachableWithItsCidAndCommandLineEntry() throws Exception {
        VmConfig base = config(TinyGuests.REPORT_THEN_HALT, 1, new ByteArrayOutputStream());
        VmConfig config = VmConfig.builder().kernel(base.kernel()).memoryMib(16).consoleOutput(new ByteArrayOutputStream())
                .device(new RngDeviceConfig()).device(VsockDeviceConfig.of(42)).build();
        String[] cmdline = new String[1];
        try (MicroVm vm = MicroVm.create(config, (m, s) -> {
            cmdline[0] = s.cmdline();
            return FLAT_REAL_MODE.load(m, s);
        })) {
            assertEquals(42, vm.vsock().orElseThrow().guestCid());
            assertEquals(19, vm.virtioTransport("vsock0").read(0x008, 4), "device id 19 at the second slot");
        }
        assertTrue(cmdline[0].contains("virtio_mmio.device=4K@0xc0002000:6"), cmdline[0]);
    }

    @Test
    void vsock_notConfigured_isEmpty() throws Exception {
        try (MicroVm vm = MicroVm.create(config(TinyGuests.REPORT_THEN_HALT, 1, new ByteArrayOutputStream()), FLAT_REAL_MODE)) {
            assertTrue(vm.vsock().isEmpty());
        }
    }

    @Test
    void vsock_guestWithoutDriver_hostConnectTimesOutAndTheLoopSurvivesKicks() throws Exception {
        try (MicroVm vm = MicroVm.create(vsockConfig(Optional.empty()), FLAT_REAL_MODE)) {
            vm.start();
            VsockHost host = vm.vsock().orElseThrow();
            // Each connect kicks the device's eventfd; with no driver the loop must ignore it quietly.
            assertThrows(SocketTimeoutException.class, () -> host.connect(1234, Duration.ofMillis(200)));
            assertThrows(SocketTimeoutException.class, () -> host.connect(1235, Duration.ofMillis(200)));
            vm.stop();
        }
    }

    @Test
    void vsock_afterClose_connectFailsAtOnce() throws Exception {
        VsockHost host;
        try (MicroVm vm = MicroVm.create(vsockConfig(Optional.empty()), FLAT_REAL_MODE)) {
            host = vm.vsock().orElseThrow();
        }
        long begin = System.nanoTime();
        assertThrows(ConnectException.class, () -> host.connect(1234, Duration.ofSeconds(10)));
        assertTrue(System.nanoTime() - begin < Duration.ofSeconds(5).toNanos(), "no wait for the timeout");
    }

    @Test
    void vsockUnixBridge_livesExactlyAsLongAsTheVm() throws Exception {
        Path socket = dir.resolve("vsock.sock");
        try (MicroVm vm = MicroVm.create(vsockConfig(Optional.of(socket)), FLAT_REAL_MODE)) {
            assertTrue(Files.exists(socket), "bound when the VM is built");
            vm.start();
            vm.stop();
            assertTrue(Files.exists(socket), "still there after the guest ended");
        }
        assertTrue(Files.notExists(socket), "removed when the VM is closed");
    }

    private VmConfig vsockConfig(Optional<Path> bridge) throws IOException {
        VmConfig base = config(TinyGuests.REPORT_THEN_HALT, 1, new ByteArrayOutputStream());
        VsockDeviceConfig vsock = VsockDeviceConfig.of(3);
        return VmConfig.builder().kernel(base.kernel()).memoryMib(16).consoleOutput(new ByteArrayOutputStream())
                .device(bridge.map(vsock::withUnixBridge).orElse(vsock)).build();
    }

    private void runWithVirtio(Path disk) throws Exception {
        VmConfig base = config(TinyGuests.REPORT_THEN_HALT, 1, new ByteArrayOutputStream());
        VmConfig config = VmConfig.builder().kernel(base.kernel()).memoryMib(16).consoleOutput(new ByteArrayOutputStream())
                .device(BlockDeviceConfig.of(disk, false)).device(new RngDeviceConfig())
                .device(VsockDeviceConfig.of(3).withUnixBridge(dir.resolve("leak.sock"))).build();
        try (MicroVm vm = MicroVm.create(config, FLAT_REAL_MODE)) {
            vm.start();
            vm.vsock().orElseThrow().connectAsync(1234, Duration.ofMillis(50)); // a kick through the eventfd
            vm.stop();
        }
    }

    private void runOnce() throws Exception {
        try (MicroVm vm = MicroVm.create(config(TinyGuests.REPORT_THEN_HALT, 2, new ByteArrayOutputStream()), FLAT_REAL_MODE)) {
            vm.start();
            vm.stop();
        }
    }

    private static long openFds() throws IOException {
        try (var s = Files.list(Path.of("/proc/self/fd"))) {
            return s.count();
        }
    }
}
