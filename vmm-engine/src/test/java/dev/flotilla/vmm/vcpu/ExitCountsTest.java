package dev.flotilla.vmm.vcpu;

import org.junit.jupiter.api.Test;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

class ExitCountsTest {

    @Test
    void plus_twoVcpus_addsEachReasonSeparately() {
        ExitCounts sum = new ExitCounts(1, 2, 3, 4, 5, 6).plus(new ExitCounts(10, 20, 30, 40, 50, 60));
        assertEquals(new ExitCounts(11, 22, 33, 44, 55, 66), sum);
        assertEquals(231, sum.total());
    }

    @Test
    void of_everyPublishedReason_answersItsOwnField() {
        ExitCounts c = new ExitCounts(1, 2, 3, 4, 5, 6);
        long expected = 1;
        for (String reason : ExitCounts.REASONS) {
            assertEquals(expected++, c.of(reason), reason);
        }
    }

    @Test
    void of_unknownReason_failsNamingTheKnownOnes() {
        var e = assertThrows(IllegalArgumentException.class, () -> ExitCounts.ZERO.of("hlt"));
        assertTrue(e.getMessage().contains("'hlt'") && e.getMessage().contains("halt"), e.getMessage());
    }
}
