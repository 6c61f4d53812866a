package dev.flotilla.node.capacity;

import dev.flotilla.node.api.ApiException;
import org.junit.jupiter.api.Test;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

class ResourceLedgerTest {
    private final ResourceLedger ledger = new ResourceLedger(new Capacity(4, 1024, 3));

    @Test
    void reserve_withinCapacity_countsUsage() {
        ledger.reserve("a", 2, 512);
        assertEquals(new ResourceLedger.Usage(2, 512, 1), ledger.usage());
    }

    @Test
    void reserve_largerThanNode_isUnprocessable() {
        ApiException e = assertThrows(ApiException.class, () -> ledger.reserve("big", 5, 16));
        assertEquals(422, e.status());
    }

    @Test
    void reserve_beyondFreeMemory_conflicts() {
        ledger.reserve("a", 1, 1000);
        ApiException e = assertThrows(ApiException.class, () -> ledger.reserve("b", 1, 100));
        assertEquals(409, e.status());
        assertTrue(e.getMessage().contains("only 24 of 1024 MiB are free"), e.getMessage());
    }

    @Test
    void reserve_beyondVmSlots_conflicts() {
        for (int i = 0; i < 3; i++) {
            ledger.reserve("s" + i, 1, 16);
        }
        assertEquals(409, assertThrows(ApiException.class, () -> ledger.reserve("s3", 1, 16)).status());
    }

    @Test
    void release_afterReserve_freesTheRoom() {
        ledger.reserve("a", 4, 1024);
        ledger.release(4, 1024);
        ledger.reserve("b", 4, 1024);
        assertEquals(1, ledger.usage().vms());
    }

    @Test
    void release_twice_isDetected() {
        ledger.reserve("a", 1, 16);
        ledger.release(1, 16);
        assertThrows(IllegalStateException.class, () -> ledger.release(1, 16));
    }
}
