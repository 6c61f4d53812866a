package dev.flotilla.tests.linux;

import dev.flotilla.vmm.ExitReason;
import dev.flotilla.vmm.MicroVm;
import dev.flotilla.vmm.VmConfig;
import dev.flotilla.vmm.VmException;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestInfo;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Optional;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;

/**
 * Boots the project's real Linux guest kernel and initramfs with the Java VMM: to the init's
 * marker with one and two vCPUs, through both boot protocols, with console output and input, and
 * checks that guest reboot ends the VM, that bad images fail clearly and that repeated boots leak
 * nothing. Runs natively on hardware KVM, inside the lab elsewhere (scripts/e2e.sh).
 */
class LinuxBootE2E {

    /** Generous: inside the lab every instruction of the guest's supervisor code is emulated. */
    static final Duration BOOT_TIMEOUT = Duration.ofSeconds(180);
    static final int MEMORY_MIB = 128;
    static final String MARKER = "flotilla-init: userspace up";

    record Boot(ExitReason exit, Console console, long bootNanos) {
        /** For failure messages: how the VM ended, whether init wrote the boot timer, and the console. */
        String report() {
            return "exit " + exit.describe() + ", boot timer " + (bootNanos > 0 ? bootNanos / 1_000_000 + " ms" : "never written")
                    + "; console:\n" + console.text();
        }
    }

    static Boot bootToExit(Path kernel, int vcpus, String extraCmdline, String name) throws Exception {
        Console console = new Console();
        VmConfig config = VmConfig.builder()
                .vcpus(vcpus).memoryMib(MEMORY_MIB)
                .kernel(kernel).initrd(GuestArtifacts.initrd())
                .cmdline(GuestArtifacts.cmdline(extraCmdline))
                .consoleOutput(console)
                .build();
        try (MicroVm vm = MicroVm.create(config)) {
            vm.start();
            Optional<ExitReason> exit = vm.awaitExit(BOOT_TIMEOUT);
            console.save(name);
            if (exit.isEmpty()) {
                vm.stop();
                fail("the guest did not end within " + BOOT_TIMEOUT + "; console:\n" + console.text());
            }
            return new Boot(exit.get(), console, vm.bootTimeNanos().orElse(-1));
        }
    }

    @Test
    void vmlinuxPvh_oneVcpu_bootsToInitAndGuestRebootEndsTheVm(TestInfo info) throws Exception {
        Boot boot = bootToExit(GuestArtifacts.vmlinux(), 1, "flotilla.exit=reboot", "pvh-1vcpu");

        assertTrue(boot.console().text().contains(MARKER + " (1 cpus)"), "no init marker: " + boot.report());
        assertInstanceOf(ExitReason.GuestReset.class, boot.exit(), () -> "exit was " + boot.exit().describe());
        assertTrue(boot.bootNanos() > 0, "the boot timer was never written by the guest's init");
        System.out.printf("pvh 1 vCPU: boot to init %.1f ms%n", boot.bootNanos() / 1e6);
    }

    @Test
    void vmlinuxPvh_twoVcpus_initSeesBothCpus() throws Exception {
        Boot boot = bootToExit(GuestArtifacts.vmlinux(), 2, "flotilla.exit=reboot", "pvh-2vcpu");

        assertTrue(boot.console().text().contains(MARKER + " (2 cpus)"), "init did not see 2 CPUs: " + boot.report());
        assertInstanceOf(ExitReason.GuestReset.class, boot.exit(), () -> "exit was " + boot.exit().describe());
    }

    @Test
    void bzImage_twoVcpus_bootsThroughTheLinux64BitProtocol() throws Exception {
        Boot boot = bootToExit(GuestArtifacts.bzImage(), 2, "flotilla.exit=reboot", "bzimage-2vcpu");

        assertTrue(boot.console().text().contains(MARKER + " (2 cpus)"), "no init marker: " + boot.report());
        assertInstanceOf(ExitReason.GuestReset.class, boot.exit(), () -> "exit was " + boot.exit().describe());
    }

    @Test
    void guestCommand_outputAndExitCodeReachTheConsole() throws Exception {
        Boot boot = bootToExit(GuestArtifacts.vmlinux(), 1,
                "flotilla.run=\"echo hello-from-the-guest; exit 7\" flotilla.exit=reboot", "run-command");

        String text = boot.console().text();
        assertTrue(text.contains("hello-from-the-guest"), "command output missing; console:\n" + text);
        assertTrue(text.contains("flotilla-init: command exited 7"), "exit code missing; console:\n" + text);
    }

    @Test
    void consoleInput_reachesTheGuestShell() throws Exception {
        Console console = new Console();
        VmConfig config = VmConfig.builder()
                .vcpus(1).memoryMib(MEMORY_MIB)
                .kernel(GuestArtifacts.vmlinux()).initrd(GuestArtifacts.initrd())
                .cmdline(GuestArtifacts.cmdline("flotilla.exit=shell"))
                .consoleOutput(console)
                .build();
        try (MicroVm vm = MicroVm.create(config)) {
            vm.start();
            assertTrue(console.await(MARKER, BOOT_TIMEOUT), "no init marker; console:\n" + console.text());
            // Give busybox sh a moment to start reading the console, then type into it.
            Thread.sleep(2000);
            byte[] input = "echo typed-$((6*7))\nreboot -f\n".getBytes(StandardCharsets.US_ASCII);
            int sent = 0;
            while (sent < input.length) {
                sent += vm.sendConsoleInput(input, sent, input.length - sent);
                Thread.sleep(10);
            }
            Optional<ExitReason> exit = vm.awaitExit(BOOT_TIMEOUT);
            console.save("console-input");
            assertTrue(exit.isPresent(), "the guest did not reboot; console:\n" + console.text());
            assertTrue(console.text().contains("typed-42"), "the shell did not run our input; console:\n" + console.text());
            assertInstanceOf(ExitReason.GuestReset.class, exit.get());
        }
    }

    @Test
    void corruptKernel_failsWithAClearError() throws IOException {
        Path bad = Files.createTempFile("corrupt-kernel", ".img");
        try {
            byte[] junk = new byte[64 * 1024];
            new java.util.Random(42).nextBytes(junk);
            Files.write(bad, junk);
            VmConfig config = VmConfig.builder().vcpus(1).memoryMib(MEMORY_MIB)
                    .kernel(bad).initrd(GuestArtifacts.initrd()).cmdline(GuestArtifacts.cmdline(""))
                    .consoleOutput(new Console()).build();

            VmException e = assertThrows(VmException.class, () -> MicroVm.create(config).close());

            assertTrue(e.getMessage().contains(bad.toString()) || e.getMessage().contains("magic"),
                    "the error should name the image or what is wrong with it: " + e.getMessage());
        } finally {
            Files.deleteIfExists(bad);
        }
    }

    @Test
    void missingInitrd_isRefusedNamingThePath() {
        Path missing = Path.of("/nonexistent/flotilla-initrd.cpio.gz");

        IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> VmConfig.builder()
                .vcpus(1).memoryMib(MEMORY_MIB).kernel(GuestArtifacts.vmlinux()).initrd(missing)
                .cmdline("").consoleOutput(new Console()).build());

        assertTrue(e.getMessage().contains(missing.toString()), e.getMessage());
    }

    @Test
    void repeatedBootsInOneJvm_leakNoFdsThreadsOrMemory() throws Exception {
        // One warm-up boot so lazily created JVM structures do not count as leaks.
        bootToExit(GuestArtifacts.vmlinux(), 2, "flotilla.exit=reboot", "leak-warmup");
        ProcessSnapshot before = ProcessSnapshot.take();

        // Mostly 1-vCPU guests: in the lab, long runs of 2-vCPU nested boots are what sets off the lab kernel's own
        // lockups and freezes (guest/README.md "the lab"); every fourth boot keeps the SMP path in the leak count.
        for (int i = 0; i < 12; i++) {
            Boot boot = bootToExit(GuestArtifacts.vmlinux(), i % 4 == 0 ? 2 : 1, "flotilla.exit=reboot", "leak-" + i);
            assertInstanceOf(ExitReason.GuestReset.class, boot.exit(), "boot " + i + ": " + boot.exit().describe());
            assertTrue(boot.console().text().contains(MARKER), "boot " + i + " did not reach init: " + boot.report());
        }
        ProcessSnapshot after = ProcessSnapshot.take();

        System.out.println("leak check: before " + before + ", after " + after);
        assertEquals(before.fds(), after.fds(), "file descriptors leaked");
        assertTrue(after.threads() <= before.threads() + 2, "threads leaked: " + before + " -> " + after);
        assertTrue(after.mappings() <= before.mappings() + 16, "memory mappings leaked: " + before + " -> " + after);
        // 12 guests of 128 MiB that each touched tens of MiB would add far more than this if leaked.
        assertTrue(after.rssKib() - before.rssKib() < 96 * 1024, "resident memory grew: " + before + " -> " + after);
    }
}
