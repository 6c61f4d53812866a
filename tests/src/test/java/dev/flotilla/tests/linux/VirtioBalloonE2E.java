package dev.flotilla.tests.linux;

import dev.flotilla.vmm.MicroVm;
import dev.flotilla.vmm.VmConfig;
import dev.flotilla.vmm.devices.virtio.balloon.BalloonDeviceConfig;
import dev.flotilla.vmm.devices.virtio.balloon.BalloonStats;
import dev.flotilla.vmm.devices.virtio.balloon.VirtioBalloon;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

import java.time.Duration;
import java.util.function.BooleanSupplier;

import static org.junit.jupiter.api.Assertions.*;

/**
 * The Linux guest's virtio-balloon driver against the Java device, in a 256 MiB guest that first
 * dirties 100 MiB (a tmpfs file, then deleted): inflating the balloon from the host makes the
 * VM's resident host memory (mincore over guest RAM) drop; free page reporting alone does the
 * same without any host action; statistics arrive.
 */
class VirtioBalloonE2E {

    static final int MEMORY_MIB = 256;
    static final long MIB = 1 << 20;
    static final Duration WAIT = Duration.ofSeconds(150);
    /** $((1+1)): the console echoes the command itself, so the marker must be computed by the guest. */
    static final String DIRTY = "dd if=/dev/zero of=/tmp/x bs=1M count=100 2>/dev/null; echo TOUCHED=$((1+1)); sleep 15;"
            + " rm /tmp/x; echo FREED=$((1+1)); sleep 600";

    static MicroVm boot(Console console, BalloonDeviceConfig balloon, String command) throws Exception {
        VmConfig config = VmConfig.builder().vcpus(1).memoryMib(MEMORY_MIB)
                .kernel(GuestArtifacts.vmlinux()).initrd(GuestArtifacts.initrd())
                .cmdline(GuestArtifacts.cmdline("flotilla.run=\"" + command + "\" " + VirtioBlockE2E.BASE))
                .consoleOutput(console).device(balloon).build();
        MicroVm vm = MicroVm.create(config);
        vm.start();
        return vm;
    }

    static void await(Console console, String marker) throws InterruptedException {
        assertTrue(console.await(marker, WAIT), "the guest never printed " + marker + "; console:\n" + console.text());
    }

    static boolean poll(BooleanSupplier condition, Duration timeout) throws InterruptedException {
        long deadline = System.nanoTime() + timeout.toNanos();
        while (System.nanoTime() < deadline) {
            if (condition.getAsBoolean()) {
                return true;
            }
            Thread.sleep(200);
        }
        return condition.getAsBoolean();
    }

    @ParameterizedTest(name = "packed={0}")
    @ValueSource(booleans = {false, true})
    void inflate_afterGuestDirtiedMemory_residentMemoryDropsAndStatsArrive(boolean packed) throws Exception {
        Console console = new Console();
        // No free page reporting here: only the balloon may give memory back.
        BalloonDeviceConfig config = new BalloonDeviceConfig(Duration.ofSeconds(1), true, false, packed, true);
        try (MicroVm vm = boot(console, config, VirtioBlockE2E.FEATURES + "; " + DIRTY)) {
            VirtioBalloon balloon = vm.virtioDevice("balloon0", VirtioBalloon.class);
            await(console, "FREED=2");
            long dirty = vm.residentMemoryBytes();
            assertTrue(dirty > 100 * MIB, "guest RAM resident after dirtying 100 MiB: " + dirty);

            balloon.setTargetMiB(192);
            boolean reached = poll(() -> balloon.actualPages() >= 192 * 256, WAIT);
            long inflated = vm.residentMemoryBytes();
            console.save("balloon-inflate-" + (packed ? "packed" : "split"));

            assertTrue(reached, "the guest gave back %d of %d pages".formatted(balloon.actualPages(), 192 * 256));
            assertTrue(dirty - inflated >= 64 * MIB, "resident %d MiB before inflating, %d MiB after"
                    .formatted(dirty / MIB, inflated / MIB));
            assertTrue(balloon.inflatedPages() >= 192 * 256);
            VirtioBlockE2E.assertRing(new VirtioBlockE2E.Run(null, console.text()), "0x0005", packed);

            assertTrue(poll(() -> balloon.stats().isPresent(), Duration.ofSeconds(30)), "no statistics arrived");
            BalloonStats stats = balloon.stats().orElseThrow();
            long total = stats.totalMemory().orElseThrow();
            assertTrue(total > 128 * MIB && total <= MEMORY_MIB * MIB, "total memory reported: " + total);
            assertTrue(stats.freeMemory().isPresent());

            balloon.setTargetMiB(0);
            assertTrue(poll(() -> balloon.actualPages() == 0, WAIT), "the balloon did not deflate: " + balloon.actualPages());
            vm.stop();
        }
    }

    @Test
    void freePageReporting_guestDeletesFile_residentMemoryDropsWithoutHostAction() throws Exception {
        Console console = new Console();
        try (MicroVm vm = boot(console, BalloonDeviceConfig.defaults(), DIRTY)) {
            VirtioBalloon balloon = vm.virtioDevice("balloon0", VirtioBalloon.class);
            await(console, "TOUCHED=2");
            long dirty = vm.residentMemoryBytes();
            assertTrue(dirty > 100 * MIB, "guest RAM resident with a 100 MiB file: " + dirty);
            await(console, "FREED=2");

            boolean dropped = poll(() -> vm.residentMemoryBytes() < dirty - 64 * MIB, WAIT);
            console.save("balloon-reporting");

            assertTrue(dropped, "resident memory stayed at %d MiB (was %d MiB with the file); %d bytes reported"
                    .formatted(vm.residentMemoryBytes() / MIB, dirty / MIB, balloon.reportedBytes()));
            assertEquals(0, balloon.actualPages(), "the balloon itself was never inflated");
            vm.stop();
        }
    }
}
