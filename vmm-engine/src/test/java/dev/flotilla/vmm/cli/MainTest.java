package dev.flotilla.vmm.cli;

import org.junit.jupiter.api.Test;

import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.util.List;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

class MainTest {

    private final ByteArrayOutputStream out = new ByteArrayOutputStream();
    private final ByteArrayOutputStream err = new ByteArrayOutputStream();

    private int run(String... args) {
        return Main.run(List.of(args), new PrintStream(out, true), new PrintStream(err, true));
    }

    @Test
    void noCommand_printsUsageWithStatus2() {
        assertEquals(2, run());
        assertTrue(err.toString().contains("usage:"), err.toString());
    }

    @Test
    void vmRun_unknownOption_namesItWithStatus2() {
        assertEquals(2, run("vm", "run", "--kernal", "x"));
        assertTrue(err.toString().contains("unknown option --kernal"), err.toString());
    }

    @Test
    void vmRun_nonNumericVcpus_isAUsageError() {
        assertEquals(2, run("vm", "run", "--vcpus", "two"));
        assertTrue(err.toString().contains("--vcpus takes a number"), err.toString());
    }

    @Test
    void vmRun_missingKernelFile_reportsTheConfigProblem() {
        assertEquals(2, run("vm", "run", "--kernel", "/nonexistent/vmlinux"));
        assertTrue(err.toString().contains("kernel /nonexistent/vmlinux is not a readable file"), err.toString());
    }

    @Test
    void host_printsOneSentence() {
        assertEquals(0, run("host"));
        assertTrue(out.toString().strip().endsWith("."), out.toString());
    }

    @Test
    void net_tapAndMac_parsed() {
        var config = Main.net("tap=tap7,mac=02:00:00:00:00:07");
        assertEquals("tap7", config.tap());
        assertEquals("02:00:00:00:00:07", config.mac().toString());
    }

    @Test
    void vmRun_netWithoutTap_isAUsageError() {
        assertEquals(2, run("vm", "run", "--net", "mac=02:00:00:00:00:07"));
        assertTrue(err.toString().contains("--net needs a tap"), err.toString());
    }

    @Test
    void vmRun_netWithMulticastMac_refused() {
        assertEquals(2, run("vm", "run", "--net", "tap=t0,mac=01:00:5e:00:00:01"));
        assertTrue(err.toString().contains("multicast"), err.toString());
    }

    @Test
    void vmRun_balloonAndNet_devicesInOrder() throws Exception {
        java.nio.file.Path kernel = java.nio.file.Files.createTempFile("kernel", "");
        kernel.toFile().deleteOnExit();
        var config = Main.parseRun(new java.util.ArrayDeque<>(List.of("--kernel", kernel.toString(), "--net", "tap=t0", "--balloon", "--no-packed")));
        assertEquals(List.of("net", "balloon"), config.devices().stream().map(d -> d.kind()).toList());
        assertTrue(config.devices().stream().noneMatch(d -> d.packedRing()));
    }

    @Test
    void vsockOption_cidAndUds_giveTheDeviceConfig() {
        var config = Main.vsock("7,uds=/tmp/v.sock");
        assertEquals(7, config.guestCid());
        assertEquals(java.nio.file.Path.of("/tmp/v.sock"), config.unixBridge().orElseThrow());
    }

    @Test
    void vmRun_vsockWithoutNumericCid_isAUsageError() {
        assertEquals(2, run("vm", "run", "--vsock", "uds=/tmp/x"));
        assertTrue(err.toString().contains("--vsock needs a guest CID first"), err.toString());
    }

    @Test
    void vmRun_vsockUnknownSuboption_namesIt() {
        assertEquals(2, run("vm", "run", "--vsock", "3,path=/tmp/x"));
        assertTrue(err.toString().contains("unknown --vsock option 'path=/tmp/x'"), err.toString());
    }

    @Test
    void vmRun_vsockReservedCid_reportsTheConfigProblem() {
        assertEquals(2, run("vm", "run", "--kernel", "/nonexistent/vmlinux", "--vsock", "2"));
        assertTrue(err.toString().contains("guest CID 2 is reserved"), err.toString());
    }
}
