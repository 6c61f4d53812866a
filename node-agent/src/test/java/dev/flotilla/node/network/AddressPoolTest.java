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

    @Test
    void subnets_eachKeepsItsNetworkGatewayAndBroadcast_addressesFillThemInOrder() {
        AddressPool pool = new AddressPool("10.1.2.0/24", 29); // 32 subnets of 8: .1 gateway, .2 to .6 sandboxes, .7 broadcast
        assertEquals(32, pool.subnets());
        assertEquals(29, pool.prefixLength());
        assertEquals(24, pool.poolPrefixLength());
        for (int i = 2; i <= 6; i++) {
            assertEquals("10.1.2." + i, pool.allocate());
        }
        assertEquals("10.1.2.10", pool.allocate(), "past .6 the next subnet, after its network .8 and gateway .9");
        assertEquals(1, pool.subnetOf("10.1.2.10"));
        assertEquals("10.1.2.9", pool.gatewayOf("10.1.2.10"));
        assertEquals("10.1.2.8/29", pool.subnetCidr(1));
        assertFalse(pool.markTaken("10.1.2.9"), "a subnet's gateway is never a sandbox's");
        assertFalse(pool.markTaken("10.1.2.15"), "nor its broadcast address");
        assertEquals(6, pool.inUse());
        pool.release("10.1.2.9"); // not a sandbox address: nothing changes
        assertEquals("10.1.2.11", pool.allocate());
    }

    @Test
    void subnets_exhausted_countsOnlySandboxAddresses() {
        AddressPool pool = new AddressPool("10.1.2.0/28", 30); // 4 subnets of one sandbox each
        for (int i = 0; i < 4; i++) {
            pool.allocate();
        }
        IllegalStateException e = assertThrows(IllegalStateException.class, pool::allocate);
        assertTrue(e.getMessage().contains("(4 addresses)"), e.getMessage());
    }

    @Test
    void subnets_poolNoLargerThanOneSubnet_isOneSubnet() {
        AddressPool pool = new AddressPool("10.1.2.0/24", 22);
        assertEquals(1, pool.subnets());
        assertEquals(24, pool.prefixLength());
        assertEquals("10.1.2.1", pool.gatewayOf("10.1.2.200"));
    }
}
