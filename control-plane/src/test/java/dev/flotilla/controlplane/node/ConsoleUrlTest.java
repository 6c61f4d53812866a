package dev.flotilla.controlplane.node;

import org.junit.jupiter.api.Test;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;

class ConsoleUrlTest {

    @Test
    void consoleUrl_webSocketOrHttpWithHost_isKept() {
        assertEquals("ws://10.0.0.5:7070/v1/sandboxes/x/console", NodeService.consoleUrl("ws://10.0.0.5:7070/v1/sandboxes/x/console"));
        assertEquals("https://n1.example/console", NodeService.consoleUrl("https://n1.example/console"));
    }

    @Test
    void consoleUrl_scriptOrMalformedOrHuge_isDropped() {
        assertNull(NodeService.consoleUrl("javascript:alert(1)"));
        assertNull(NodeService.consoleUrl("ws://"));
        assertNull(NodeService.consoleUrl("not a url"));
        assertNull(NodeService.consoleUrl("http://h/" + "a".repeat(3000)));
        assertNull(NodeService.consoleUrl(null));
    }
}
