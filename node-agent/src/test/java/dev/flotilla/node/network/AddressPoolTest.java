package dev.flotilla.node.network;

import org.junit.jupiter.api.Test;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

class AddressPoolTest {

    @Test
    void allocate_fromFreshPool_startsAfterTheGateway() {
        AddressPool pool = new AddressPool("10.1.2.0/24");
        assertEquals("10.1.2.1", pool.gateway());
        assertEquals("10.1.2.2", pool.allocate());
        assertEquals("10.1.2.3", pool.allocate());
    }

    @Test
    void allocate_afterRelease_reusesLowestFree() {
        AddressPool pool = new AddressPool("10.1.2.0/24");
        String a = pool.allocate();
        pool.allocate();
        pool.release(a);
        assertEquals(a, pool.allocate());
    }

    @Test
    void allocate_whenExhausted_failsWithSentence() {
        AddressPool pool = new AddressPool("10.1.2.0/29"); // .2 to .6
        for (int i = 0; i < 5; i++) {
            pool.allocate();
        }
        IllegalStateException e = assertThrows(IllegalStateException.class, pool::allocate);
        assertTrue(e.getMessage().contains("exhausted"));
    }

    @Test
    void markTaken_outsidePool_isRefused() {
        AddressPool pool = new AddressPool("10.1.2.0/24");
        assertFalse(pool.markTaken("10.1.3.5"));
        assertTrue(pool.markTaken("10.1.2.2"));
        assertEquals("10.1.2.3", pool.allocate());
    }

    @Test
    void constructor_withHostBits_normalisesTheNetwork() {
        assertEquals("10.1.2.0/24", new AddressPool("10.1.2.77/24").cidr());
    }

    @Test
    void constructor_withInvalidCidr_isRefused() {
        assertThrows(IllegalArgumentException.class, () -> new AddressPool("10.1.2.0"));
        assertThrows(IllegalArgumentException.class, () -> new AddressPool("10.1.2.300/24"));
        assertThrows(IllegalArgumentException.class, () -> new AddressPool("10.1.2.0/31"));
    }

    @Test
    void tapName_isUniquePerAddressAndFitsIfnamsiz() {
        String tap = SandboxNetwork.tapName("10.213.0.2");
        assertEquals("flt0ad50002", tap);
        assertTrue(tap.length() <= 15);
        assertEquals("02:46:4c:d5:00:02", SandboxNetwork.macFor("10.213.0.2"));
    }
}
