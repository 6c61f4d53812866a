package dev.flotilla.vmm.devices.virtio.vsock;

import org.junit.jupiter.api.Test;

import java.util.HashMap;
import java.util.Map;
import java.util.Random;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

class LongKeyMapTest {

    @Test
    void remove_otherValueUnderTheKey_keepsTheMapping() {
        LongKeyMap<String> map = new LongKeyMap<>();
        map.put(7, "a");

        assertFalse(map.remove(7, "b"));
        assertEquals("a", map.get(7));
    }

    @Test
    void put_existingKey_replacesWithoutGrowing() {
        LongKeyMap<String> map = new LongKeyMap<>();
        map.put(1L << 32 | 5, "a");
        map.put(1L << 32 | 5, "b");

        assertEquals("b", map.get(1L << 32 | 5));
        assertEquals(1, map.size());
    }

    @Test
    void randomOperations_behaveAsAHashMap() {
        LongKeyMap<Long> map = new LongKeyMap<>();
        Map<Long, Long> reference = new HashMap<>();
        Random random = new Random(42);
        for (int step = 0; step < 200_000; step++) {
            // Few distinct keys, so that probe runs collide and deletions shift entries often.
            long key = (long) random.nextInt(64) << 32 | random.nextInt(8);
            switch (random.nextInt(3)) {
                case 0 -> {
                    Long value = (long) step;
                    map.put(key, value);
                    reference.put(key, value);
                }
                case 1 -> {
                    Long current = reference.get(key);
                    boolean removed = current != null && map.remove(key, current);
                    assertEquals(current != null, removed, "remove of a present key");
                    reference.remove(key);
                }
                default -> assertEquals(reference.get(key), map.get(key), "get at step " + step);
            }
            assertEquals(reference.size(), map.size());
        }
        for (Map.Entry<Long, Long> e : reference.entrySet()) {
            assertEquals(e.getValue(), map.get(e.getKey()));
        }
        assertTrue(map.values().containsAll(reference.values()));
    }

    @Test
    void clear_emptiesTheMap() {
        LongKeyMap<String> map = new LongKeyMap<>();
        map.put(3, "x");

        map.clear();

        assertNull(map.get(3));
        assertEquals(0, map.size());
    }
}
