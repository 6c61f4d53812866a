package dev.flotilla.vmm.bench;

import org.junit.jupiter.api.Test;

import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

import static org.junit.jupiter.api.Assertions.assertEquals;

class JsonTest {

    @Test
    void toJson_nestedValues_areEscapedAndOrdered() {
        Map<String, Object> m = new LinkedHashMap<>();
        m.put("name", "a \"quoted\"\nline");
        m.put("n", 3);
        m.put("x", 1.5);
        m.put("nan", Double.NaN);
        m.put("list", List.of(1, 2));
        assertEquals("{\n  \"name\": \"a \\\"quoted\\\"\\nline\",\n  \"n\": 3,\n  \"x\": 1.500,\n"
                + "  \"nan\": null,\n  \"list\": [1, 2]\n}", Json.toJson(m));
    }
}
