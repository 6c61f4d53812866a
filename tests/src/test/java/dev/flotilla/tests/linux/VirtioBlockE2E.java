package dev.flotilla.tests.linux;

import dev.flotilla.vmm.ExitReason;
import dev.flotilla.vmm.MicroVm;
import dev.flotilla.vmm.VmConfig;
import dev.flotilla.vmm.devices.virtio.VirtioDeviceConfig;
import dev.flotilla.vmm.devices.virtio.blk.BlockDeviceConfig;
import dev.flotilla.vmm.devices.virtio.rng.RngDeviceConfig;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

import java.io.IOException;
import java.io.InputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.MessageDigest;
import java.util.HexFormat;
import java.util.List;
import java.util.Optional;
import java.util.UUID;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;

/**
 * The Linux guest's own virtio-blk and virtio-rng drivers against the Java devices, over both
 * ring layouts (packed offered, or withheld so the driver falls back to split): raw writes read
 * back with checksums the host agrees with, an ext4 image made on the host mounted and written,
 * a read-only drive refusing writes, and /dev/hwrng delivering bytes. Each guest checks which
 * layout it negotiated, so a test cannot pass on the wrong one.
 */
class VirtioBlockE2E {

    static final String BASE = "flotilla.exit=reboot";
    /** Bit 34 of /sys/bus/virtio/devices/X/features (one '0'/'1' character per bit, bit 0 first). */
    static final int RING_PACKED_BIT = 34;

    Path dir;

    @BeforeEach
    void makeDir() throws IOException {
        dir = Files.createTempDirectory("flotilla-blk-e2e");
    }

    @AfterEach
    void removeDir() throws IOException {
        try (var s = Files.walk(dir)) {
            for (Path p : s.sorted(java.util.Comparator.reverseOrder()).toList()) {
                Files.deleteIfExists(p);
            }
        }
    }

    record Run(ExitReason exit, String console) {
        String value(String key) {
            // Anchored at a line start: init also echoes the command itself ("running: ... echo KEY=$(...)").
            Matcher m = Pattern.compile("(?m)^" + Pattern.quote(key) + "=(\\S+)").matcher(console);
            if (!m.find()) {
                fail("the guest printed no " + key + "=...; console:\n" + console);
            }
            return m.group(1);
        }
    }

    static Run boot(String name, String command, List<VirtioDeviceConfig> devices) throws Exception {
        Console console = new Console();
        VmConfig.Builder b = VmConfig.builder().vcpus(1).memoryMib(LinuxBootE2E.MEMORY_MIB)
                .kernel(GuestArtifacts.vmlinux()).initrd(GuestArtifacts.initrd())
                .cmdline(GuestArtifacts.cmdline("flotilla.run=\"" + command + "\" " + BASE))
                .consoleOutput(console);
        devices.forEach(b::device);
        try (MicroVm vm = MicroVm.create(b.build())) {
            vm.start();
            Optional<ExitReason> exit = vm.awaitExit(LinuxBootE2E.BOOT_TIMEOUT);
            console.save(name);
            if (exit.isEmpty()) {
                vm.stop();
                fail("the guest did not end within " + LinuxBootE2E.BOOT_TIMEOUT + "; console:\n" + console.text());
            }
            Run run = new Run(exit.get(), console.text());
            assertInstanceOf(ExitReason.GuestReset.class, run.exit(), () -> "exit was " + run.exit().describe() + "; console:\n" + run.console());
            return run;
        }
    }

    /** Prints FEAT_<device id>=<feature bits> for every virtio device the guest bound. */
    static final String FEATURES = "for d in /sys/bus/virtio/devices/*; do echo FEAT_$(cat $d/device)=$(cat $d/features); done";

    static void assertRing(Run run, String deviceId, boolean packed) {
        String bits = run.value("FEAT_" + deviceId);
        assertEquals(packed ? '1' : '0', bits.charAt(RING_PACKED_BIT),
                "negotiated features " + bits + " for device " + deviceId + " do not show the " + (packed ? "packed" : "split") + " ring");
    }

    static String md5(Path file, long length) throws Exception {
        MessageDigest md = MessageDigest.getInstance("MD5");
        try (InputStream in = Files.newInputStream(file)) {
            byte[] buf = new byte[65536];
            long left = length;
            while (left > 0) {
                int n = in.read(buf, 0, (int) Math.min(buf.length, left));
                if (n < 0) {
                    break;
                }
                md.update(buf, 0, n);
                left -= n;
            }
        }
        return HexFormat.of().formatHex(md.digest());
    }

    static String exec(String... command) throws Exception {
        Process p = new ProcessBuilder(command).redirectErrorStream(true).start();
        String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
        int rc = p.waitFor();
        if (rc != 0) {
            fail(String.join(" ", command) + " exited " + rc + ": " + out);
        }
        return out;
    }

    @ParameterizedTest(name = "packed={0}")
    @ValueSource(booleans = {false, true})
    void rawDisk_writtenByTheGuest_readsBackAndMatchesTheHostFile(boolean packed) throws Exception {
        Path disk = dir.resolve("raw.img");
        Files.write(disk, new byte[8 << 20]);
        String command = FEATURES + "; dd if=/dev/urandom of=/tmp/d bs=4096 count=256 2>/dev/null;"
                + " dd if=/tmp/d of=/dev/vda bs=4096 count=256 conv=fsync 2>/dev/null; blockdev --flushbufs /dev/vda;"
                + " echo W=$(md5sum < /tmp/d | cut -c1-32);"
                + " echo R=$(dd if=/dev/vda bs=4096 count=256 2>/dev/null | md5sum | cut -c1-32)";

        Run run = boot("blk-raw-" + (packed ? "packed" : "split"), command,
                List.of(BlockDeviceConfig.of(disk, false).withRings(packed, true)));

        assertRing(run, "0x0002", packed);
        String written = run.value("W");
        assertEquals(written, run.value("R"), "the guest read back other data than it wrote");
        assertEquals(written, md5(disk, 1 << 20), "the host's backing file differs from what the guest wrote");
    }

    @ParameterizedTest(name = "packed={0}")
    @ValueSource(booleans = {false, true})
    void ext4Image_madeOnTheHost_mountsReadsAndWrites(boolean packed) throws Exception {
        Path content = Files.createDirectories(dir.resolve("content"));
        String token = "ext4-" + UUID.randomUUID();
        Files.writeString(content.resolve("hello.txt"), token + "\n");
        Path image = dir.resolve("ext4.img");
        exec("mkfs.ext4", "-q", "-F", "-d", content.toString(), image.toString(), "16M");
        String command = FEATURES + "; mount -t ext4 /dev/vda /mnt && echo READ=$(cat /mnt/hello.txt)"
                + " && echo from-guest > /mnt/new.txt && umount /mnt && echo UMOUNT=ok";

        Run run = boot("blk-ext4-" + (packed ? "packed" : "split"), command,
                List.of(BlockDeviceConfig.of(image, false).withRings(packed, true)));

        assertRing(run, "0x0002", packed);
        assertEquals(token, run.value("READ"));
        assertEquals("ok", run.value("UMOUNT"));
        String fromHost = exec("debugfs", "-R", "cat /new.txt", image.toString());
        assertTrue(fromHost.contains("from-guest"), "the guest's file is not in the image: " + fromHost);
        exec("e2fsck", "-f", "-n", image.toString());
    }

    @ParameterizedTest(name = "packed={0}")
    @ValueSource(booleans = {false, true})
    void readOnlyDrive_refusesWritesAndKeepsTheImage(boolean packed) throws Exception {
        Path disk = dir.resolve("ro.img");
        byte[] data = new byte[1 << 20];
        new java.util.Random(7).nextBytes(data);
        Files.write(disk, data);
        String before = md5(disk, data.length);
        String command = FEATURES + "; echo RO=$(cat /sys/block/vda/ro); echo SERIAL=$(cat /sys/block/vda/serial);"
                + " dd if=/dev/zero of=/dev/vda bs=4096 count=1 conv=fsync 2>/dev/null; echo WRITE_RC=$?;"
                + " echo R=$(dd if=/dev/vda bs=4096 count=256 2>/dev/null | md5sum | cut -c1-32)";

        Run run = boot("blk-ro-" + (packed ? "packed" : "split"), command,
                List.of(BlockDeviceConfig.of(disk, true).withSerial("flotilla-ro-1").withRings(packed, true)));

        assertRing(run, "0x0002", packed);
        assertEquals("1", run.value("RO"));
        assertEquals("flotilla-ro-1", run.value("SERIAL"));
        assertNotEquals("0", run.value("WRITE_RC"), "the guest could write to a read-only drive");
        assertEquals(before, run.value("R"), "the guest read other data than the image holds");
        assertEquals(before, md5(disk, data.length), "the read-only image changed");
    }

    @ParameterizedTest(name = "packed={0}")
    @ValueSource(booleans = {false, true})
    void hwrng_givesBytes(boolean packed) throws Exception {
        String command = FEATURES + "; echo RNG=$(cat /sys/class/misc/hw_random/rng_current);"
                + " echo BYTES=$(dd if=/dev/hwrng bs=64 count=16 2>/dev/null | wc -c);"
                + " echo DISTINCT=$(dd if=/dev/hwrng bs=64 count=16 2>/dev/null | od -An -v -tx1 | tr ' ' '\\n' | sort -u | wc -l)";

        Run run = boot("rng-" + (packed ? "packed" : "split"), command, List.of(new RngDeviceConfig(packed, true)));

        assertRing(run, "0x0004", packed);
        assertTrue(run.value("RNG").startsWith("virtio_rng"), "hwrng is " + run.value("RNG"));
        assertEquals("1024", run.value("BYTES"));
        // 1024 random bytes take well over 200 of the 256 values (plus one empty line); zeros would give 1-2.
        assertTrue(Integer.parseInt(run.value("DISTINCT")) > 200, "hwrng bytes do not look random: " + run.value("DISTINCT"));
    }
}
