package dev.flotilla.cri.service;

import dev.flotilla.cri.CriException;
import dev.flotilla.cri.v1.ContainerConfig;
import dev.flotilla.cri.v1.PodSandboxConfig;
import org.junit.jupiter.api.Test;

import java.nio.file.Path;
import java.util.List;
import java.util.Optional;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

class CriRequestsTest {

    private static PodSandboxConfig sandbox(String logDir) {
        return PodSandboxConfig.newBuilder().setLogDirectory(logDir).build();
    }

    private static ContainerConfig container(String logPath) {
        return ContainerConfig.newBuilder().setLogPath(logPath).build();
    }

    @Test
    void containerLogPath_relativePath_resolvedInsideLogDirectory() {
        assertEquals(Optional.of(Path.of("/var/log/pods/ns_p_uid/app/0.log")),
                CriRequests.containerLogPath(sandbox("/var/log/pods/ns_p_uid"), container("app/0.log")));
    }

    @Test
    void containerLogPath_noLogPath_empty() {
        assertEquals(Optional.empty(), CriRequests.containerLogPath(sandbox("/var/log/pods/x"), container("")));
    }

    @Test
    void containerLogPath_escapingWithDotDot_invalidArgument() {
        CriException e = assertThrows(CriException.class,
                () -> CriRequests.containerLogPath(sandbox("/var/log/pods/x"), container("../../../etc/passwd")));
        assertEquals(CriException.Reason.INVALID_ARGUMENT, e.reason());
    }

    @Test
    void containerLogPath_absolute_invalidArgument() {
        assertThrows(CriException.class,
                () -> CriRequests.containerLogPath(sandbox("/var/log/pods/x"), container("/etc/shadow")));
    }

    @Test
    void containerLogPath_relativeLogDirectory_invalidArgument() {
        assertThrows(CriException.class,
                () -> CriRequests.containerLogPath(sandbox("var/log/pods/x"), container("a/0.log")));
    }

    @Test
    void podCidrs_dualStack_bothKept() {
        assertEquals(List.of("10.244.1.0/24", "fd00:10:244:1::/64"),
                CriRequests.podCidrs("10.244.1.0/24, fd00:10:244:1::/64"));
    }

    @Test
    void podCidrs_prefixTooLong_invalidArgumentNamingField() {
        CriException e = assertThrows(CriException.class, () -> CriRequests.podCidrs("10.0.0.0/33"));
        assertTrue(e.getMessage().contains("pod_cidr"), e.getMessage());
    }

    @Test
    void podCidrs_hostName_invalidArgument() {
        // Must not be resolved through DNS: only literal addresses are CIDRs.
        assertThrows(CriException.class, () -> CriRequests.podCidrs("fade.cafe/24"));
    }

    @Test
    void sandboxId_uppercaseHex_invalidArgument() {
        assertThrows(CriException.class, () -> CriRequests.sandboxId("pod_sandbox_id", "A".repeat(64)));
    }

    @Test
    void printable_controlCharacters_escaped() {
        assertEquals("a\\x0ab", CriRequests.printable("a\nb"));
    }
}
