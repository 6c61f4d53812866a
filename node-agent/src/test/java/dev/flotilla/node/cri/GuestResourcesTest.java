package dev.flotilla.node.cri;

import dev.flotilla.agent.protocol.Resources;
import dev.flotilla.cri.CriException;
import dev.flotilla.cri.v1.LinuxContainerResources;
import org.junit.jupiter.api.Test;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** CRI container limits as the guest agent applies them (their effect in a guest: CriE2E). */
class GuestResourcesTest {
    @Test
    void limits_mapToCgroupV2Values() {
        Resources r = CriPods.guestResources(LinuxContainerResources.newBuilder().setMemoryLimitInBytes(64L << 20)
                .setCpuQuota(50_000).setCpuPeriod(100_000).setCpuShares(1024).build(), null, "app");

        assertEquals(64L << 20, r.getMemoryLimitBytes());
        assertEquals(50_000, r.getCpuQuotaUs());
        assertEquals(100_000, r.getCpuPeriodUs());
        assertEquals(39, r.getCpuWeight(), "1024 shares, the default of cgroup v1, is weight 39 as with runc");
    }

    @Test
    void unsetOrUnlimited_isZero_whichTheAgentReadsAsNoLimit() {
        Resources r = CriPods.guestResources(LinuxContainerResources.newBuilder().setCpuQuota(-1).build(), null, "app");

        assertEquals(Resources.getDefaultInstance(), r);
        assertEquals(1, CriPods.guestResources(LinuxContainerResources.newBuilder().setCpuShares(2).build(), null, "a")
                .getCpuWeight());
        assertEquals(10_000, CriPods.guestResources(LinuxContainerResources.newBuilder().setCpuShares(1 << 20).build(),
                null, "a").getCpuWeight(), "shares above the v1 maximum are clamped");
        assertEquals(100_000, CriPods.guestResources(LinuxContainerResources.newBuilder().setCpuQuota(20_000).build(),
                null, "a").getCpuPeriodUs(), "the default period");
    }

    @Test
    void impossibleValues_areInvalidArguments() {
        CriException negative = assertThrows(CriException.class, () -> CriPods.guestResources(
                LinuxContainerResources.newBuilder().setMemoryLimitInBytes(-5).build(), null, "app"));
        assertEquals(CriException.Reason.INVALID_ARGUMENT, negative.reason());
        CriException period = assertThrows(CriException.class, () -> CriPods.guestResources(
                LinuxContainerResources.newBuilder().setCpuQuota(5_000).setCpuPeriod(10).build(), null, "app"));
        assertEquals(CriException.Reason.INVALID_ARGUMENT, period.reason());
        assertTrue(period.getMessage().contains("period 1000..1000000"), period.getMessage());
    }
}
