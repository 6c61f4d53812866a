package dev.flotilla.controlplane.ui;

import org.junit.jupiter.api.Test;

import java.util.ArrayList;
import java.util.List;
import java.util.Map;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

class SandboxFormTest {

    private static SandboxForm form() {
        SandboxForm form = new SandboxForm();
        form.name = "web-1";
        form.image = "busybox";
        return form;
    }

    @Test
    void toRequestBody_labelLineWithoutEquals_reportsThatLine() {
        SandboxForm form = form();
        form.labels = "app=web\njunk";
        List<SandboxForm.LineError> errors = new ArrayList<>();

        form.toRequestBody(errors);

        assertEquals(List.of(new SandboxForm.LineError("labels", "'junk' must be written key=value")), errors);
    }

    @Test
    void toRequestBody_pairsSeparatedByCommasOrLines_becomeOneMap() {
        SandboxForm form = form();
        form.labels = "app=web, tier=db\nzone=a";
        List<SandboxForm.LineError> errors = new ArrayList<>();

        Map<String, Object> body = form.toRequestBody(errors);

        assertTrue(errors.isEmpty());
        assertEquals(Map.of("app", "web", "tier", "db", "zone", "a"), body.get("labels"));
    }

    @Test
    void toRequestBody_tolerationLines_becomeApiTolerations() {
        SandboxForm form = form();
        form.tolerations = "dedicated=gpu:NoSchedule\nspot:NoExecute\n*";

        Map<String, Object> body = form.toRequestBody(new ArrayList<>());

        assertEquals(List.of(
                Map.of("effect", "NoSchedule", "key", "dedicated", "operator", "Equal", "value", "gpu"),
                Map.of("effect", "NoExecute", "key", "spot", "operator", "Exists"),
                Map.of("operator", "Exists")), body.get("tolerations"));
    }

    @Test
    void toRequestBody_blankNumbers_areLeftForTheApiToReport() {
        SandboxForm form = form();
        form.vcpus = " ";
        form.memoryMiB = "abc";

        Map<String, Object> body = form.toRequestBody(new ArrayList<>());

        assertNull(body.get("vcpus"));
        assertEquals("abc", body.get("memoryMiB"));
    }

    @Test
    void toRequestBody_commandLines_becomeArguments_andEmptyCommandIsOmitted() {
        SandboxForm form = form();
        form.command = "sh\r\n-c\n\necho hi";
        assertEquals(List.of("sh", "-c", "echo hi"), form.toRequestBody(new ArrayList<>()).get("command"));

        form.command = "";
        assertFalse(form.toRequestBody(new ArrayList<>()).containsKey("command"));
    }
}
