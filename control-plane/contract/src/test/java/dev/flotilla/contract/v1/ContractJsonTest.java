package dev.flotilla.contract.v1;

import com.fasterxml.jackson.databind.ObjectMapper;
import org.junit.jupiter.api.Test;

import java.util.List;
import java.util.Map;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

class ContractJsonTest {
    private final ObjectMapper json = new ObjectMapper();

    @Test
    void registration_roundTrip_keepsEveryField() throws Exception {
        var registration = new NodeRegistration("node-a", "http://10.0.0.5:7070", "secret",
                new NodeCapacity(8, 16384, 50), Map.of("zone", "a"),
                List.of(new Taint("gpu", "true", TaintEffect.NO_SCHEDULE)), KvmKind.PVM, "0.1.0");

        String text = json.writeValueAsString(registration);

        assertEquals(registration, json.readValue(text, NodeRegistration.class));
        assertTrue(text.contains("\"NoSchedule\""), text);
        assertTrue(text.contains("\"pvm\""), text);
    }

    @Test
    void sandboxStatus_nullFields_areOmitted() throws Exception {
        String text = json.writeValueAsString(new SandboxStatus("s1", VmState.RUNNING, 1, null, null));

        assertFalse(text.contains("message"), text);
        assertFalse(text.contains("bootTimeMillis"), text);
    }

    @Test
    void heartbeat_unknownFieldsAndEnumConstants_areTolerated() throws Exception {
        String newerPeer = """
                {"usage":{"vcpusUsed":1,"memoryMiBUsed":128,"vmCount":1,"gpuUsed":3},
                 "vms":[{"sandboxId":"s1","state":"HIBERNATED","memoryMiB":128}],"zone":"b"}""";

        Heartbeat heartbeat = json.readerFor(Heartbeat.class)
                .with(com.fasterxml.jackson.databind.DeserializationFeature.READ_UNKNOWN_ENUM_VALUES_USING_DEFAULT_VALUE)
                .readValue(newerPeer);

        assertEquals(VmState.UNKNOWN, heartbeat.vms().getFirst().state());
        assertEquals(128, heartbeat.usage().memoryMiBUsed());
    }
}
