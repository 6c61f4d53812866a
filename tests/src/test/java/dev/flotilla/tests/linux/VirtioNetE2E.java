package dev.flotilla.tests.linux;

import dev.flotilla.vmm.ExitReason;
import dev.flotilla.vmm.MicroVm;
import dev.flotilla.vmm.VmConfig;
import dev.flotilla.vmm.devices.virtio.net.MacAddress;
import dev.flotilla.vmm.devices.virtio.net.NetDeviceConfig;
import dev.flotilla.vmm.devices.virtio.net.NetRejection;
import dev.flotilla.vmm.devices.virtio.net.VirtioNet;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

import java.io.InputStream;
import java.io.OutputStream;
import java.net.InetAddress;
import java.net.ServerSocket;
import java.net.Socket;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.MessageDigest;
import java.util.HexFormat;
import java.util.Optional;
import java.util.Random;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;

import static org.junit.jupiter.api.Assertions.*;

/**
 * The Linux guest's virtio-net driver against the Java device on a real host tap, both ring
 * layouts: the host side of the tap gets an address, the guest configures eth0, pings the host,
 * sends 2 MiB to a host ServerSocket with nc and receives 2 MiB from another; checksums must
 * agree on both ends. The tap is created by the test (ip tuntap, the "existing tap" path) so the
 * host's sockets can bind before the guest boots; the VMM attaches to it.
 */
class VirtioNetE2E {

    static final int PAYLOAD = 2 << 20;
    static final int UPLOAD_PORT = 7001;
    static final int DOWNLOAD_PORT = 7002;

    static String md5(byte[] data) throws Exception {
        return HexFormat.of().formatHex(MessageDigest.getInstance("MD5").digest(data));
    }

    @ParameterizedTest(name = "packed={0}")
    @ValueSource(booleans = {false, true})
    void guest_pingsHostAndMovesDataBothWaysOverTcp(boolean packed) throws Exception {
        assertTrue(Files.exists(Path.of("/dev/net/tun")), "/dev/net/tun is missing: load the tun module (the lab does)");
        String tap = packed ? "flnetp0" : "flnets0";
        int subnet = packed ? 61 : 60;
        String host = "172.30." + subnet + ".1";
        String guest = "172.30." + subnet + ".2";
        VirtioBlockE2E.exec("ip", "tuntap", "add", "dev", tap, "mode", "tap");
        try {
            VirtioBlockE2E.exec("ip", "addr", "add", host + "/24", "dev", tap);
            VirtioBlockE2E.exec("ip", "link", "set", tap, "up");
            byte[] download = new byte[PAYLOAD];
            new Random(subnet).nextBytes(download);
            try (ServerSocket up = new ServerSocket(UPLOAD_PORT, 1, InetAddress.getByName(host));
                 ServerSocket down = new ServerSocket(DOWNLOAD_PORT, 1, InetAddress.getByName(host))) {
                CompletableFuture<byte[]> received = CompletableFuture.supplyAsync(() -> {
                    try (Socket s = up.accept(); InputStream in = s.getInputStream()) {
                        // Exactly PAYLOAD bytes: busybox nc may not half-close, so the host closes first.
                        return in.readNBytes(PAYLOAD);
                    } catch (Exception e) {
                        throw new IllegalStateException("upload server failed", e);
                    }
                });
                CompletableFuture<Void> sent = CompletableFuture.runAsync(() -> {
                    try (Socket s = down.accept(); OutputStream out = s.getOutputStream()) {
                        out.write(download);
                    } catch (Exception e) {
                        throw new IllegalStateException("download server failed", e);
                    }
                });
                String command = VirtioBlockE2E.FEATURES + "; ip addr add " + guest + "/24 dev eth0; ip link set eth0 up;"
                        + " ping -c 3 " + host + " >/dev/null && echo PING=ok;"
                        + " dd if=/dev/urandom of=/tmp/u bs=1024 count=" + PAYLOAD / 1024 + " 2>/dev/null;"
                        + " echo U=$(md5sum < /tmp/u | cut -c1-32); nc " + host + " " + UPLOAD_PORT + " < /tmp/u;"
                        + " nc " + host + " " + DOWNLOAD_PORT + " > /tmp/d; echo D=$(md5sum < /tmp/d | cut -c1-32)";
                Console console = new Console();
                VmConfig config = VmConfig.builder().vcpus(1).memoryMib(LinuxBootE2E.MEMORY_MIB)
                        .kernel(GuestArtifacts.vmlinux()).initrd(GuestArtifacts.initrd())
                        .cmdline(GuestArtifacts.cmdline("flotilla.run=\"" + command + "\" " + VirtioBlockE2E.BASE))
                        .consoleOutput(console)
                        .device(NetDeviceConfig.of(tap).withMac(MacAddress.parse("02:fc:00:00:00:0" + (packed ? 2 : 1)))
                                .withRings(packed, true))
                        .build();
                VirtioBlockE2E.Run run;
                String nicCounters;
                try (MicroVm vm = MicroVm.create(config)) {
                    vm.start();
                    Optional<ExitReason> exit = vm.awaitExit(LinuxBootE2E.BOOT_TIMEOUT);
                    console.save("net-" + (packed ? "packed" : "split"));
                    if (exit.isEmpty()) {
                        vm.stop();
                        fail("the guest did not end within " + LinuxBootE2E.BOOT_TIMEOUT + "; console:\n" + console.text());
                    }
                    run = new VirtioBlockE2E.Run(exit.get(), console.text());
                    VirtioNet nic = vm.virtioDevice("net0", VirtioNet.class);
                    nicCounters = "nic: tx %d frames %d B, rx %d frames %d B, tap errors %d".formatted(nic.txFrames(),
                            nic.txBytes(), nic.rxFrames(), nic.rxBytes(), nic.backendErrors());
                    assertTrue(nic.rxFrames() > 0 && nic.txFrames() > 0, "frames rx %d tx %d".formatted(nic.rxFrames(), nic.txFrames()));
                    for (NetRejection r : NetRejection.values()) {
                        assertEquals(0, nic.rejections(r), "an honest driver had a chain rejected: " + r);
                    }
                }
                VirtioBlockE2E.assertRing(run, "0x0001", packed);
                assertEquals("ok", run.value("PING"), "ping from guest to host failed; console:\n" + run.console());
                byte[] uploaded;
                try {
                    uploaded = received.get(30, TimeUnit.SECONDS);
                } catch (TimeoutException e) {
                    throw new AssertionError("the guest ended but its upload never arrived whole (" + nicCounters
                            + "); console:\n" + run.console(), e);
                }
                assertEquals(run.value("U"), md5(uploaded), "upload corrupted");
                sent.get(30, TimeUnit.SECONDS);
                assertEquals(md5(download), run.value("D"), "download corrupted");
            }
        } finally {
            VirtioBlockE2E.exec("ip", "link", "del", tap);
        }
    }
}
