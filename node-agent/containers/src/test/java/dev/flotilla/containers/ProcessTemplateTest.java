package dev.flotilla.containers;

import dev.flotilla.agent.protocol.Process;
import dev.flotilla.images.ImageConfig;
import org.junit.jupiter.api.Test;

import java.util.List;
import java.util.Map;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

class ProcessTemplateTest {

    static ImageConfig image(List<String> entrypoint, List<String> cmd, List<String> env, String cwd, String user) {
        return new ImageConfig(entrypoint, cmd, env, cwd, user, List.of(), Map.of(), "");
    }

    @Test
    void from_noCommand_runsEntrypointThenCmd() {
        Process p = ProcessTemplate.from(image(List.of("/bin/sh", "-c"), List.of("echo hi"), List.of("PATH=/bin"), "/srv", ""), List.of(), List.of());
        assertEquals(List.of("/bin/sh", "-c", "echo hi"), p.getArgsList());
        assertEquals("/srv", p.getCwd());
    }

    @Test
    void from_requestCommand_replacesCmdKeepsEntrypoint() {
        Process p = ProcessTemplate.from(image(List.of("/entry"), List.of("default"), List.of(), "", ""), List.of("mine", "arg"), List.of());
        assertEquals(List.of("/entry", "mine", "arg"), p.getArgsList());
    }

    @Test
    void kubernetes_command_replacesEntrypointAndDropsCmd() {
        ImageConfig img = image(List.of("/entry"), List.of("default"), List.of(), "/srv", "");
        assertEquals(List.of("/bin/sleep"), ProcessTemplate.kubernetes(img, List.of("/bin/sleep"), List.of(), List.of(), "")
                .getArgsList());
        assertEquals(List.of("/bin/sleep", "5"), ProcessTemplate.kubernetes(img, List.of("/bin/sleep"), List.of("5"), List.of(), "")
                .getArgsList());
    }

    @Test
    void kubernetes_argsOnly_replaceCmdAfterEntrypoint() {
        ImageConfig img = image(List.of("/entry"), List.of("default"), List.of(), "/srv", "");
        assertEquals(List.of("/entry", "mine"), ProcessTemplate.kubernetes(img, List.of(), List.of("mine"), List.of(), "").getArgsList());
        assertEquals(List.of("/entry", "default"), ProcessTemplate.kubernetes(img, List.of(), List.of(), List.of(), "").getArgsList());
    }

    @Test
    void kubernetes_workingDirAndEnv_overrideTheImage() {
        ImageConfig img = image(List.of("/entry"), List.of(), List.of("A=image", "B=kept"), "/srv", "");
        Process p = ProcessTemplate.kubernetes(img, List.of(), List.of(), List.of("A=pod"), "/work");
        assertEquals("/work", p.getCwd());
        assertTrue(p.getEnvList().containsAll(List.of("A=pod", "B=kept")), p.getEnvList().toString());
    }

    @Test
    void from_noEntrypointNoCmdNoCommand_refused() {
        ContainerException e = assertThrows(ContainerException.class,
                () -> ProcessTemplate.from(image(List.of(), List.of(), List.of(), "", ""), List.of(), List.of()));
        assertTrue(e.getMessage().contains("nothing to run"), e.getMessage());
    }

    @Test
    void from_emptyWorkingDir_isRoot() {
        assertEquals("/", ProcessTemplate.from(image(List.of(), List.of("x"), List.of(), "", ""), List.of(), List.of()).getCwd());
    }

    @Test
    void from_relativeWorkingDir_refused() {
        assertThrows(ContainerException.class, () -> ProcessTemplate.from(image(List.of(), List.of("x"), List.of(), "srv", ""), List.of(), List.of()));
    }

    @Test
    void mergeEnv_requestOverridesImageByName_keepsOrder() {
        assertEquals(List.of("PATH=/bin", "A=2", "B=3"), ProcessTemplate.mergeEnv(List.of("PATH=/bin", "A=1"), List.of("A=2", "B=3")));
    }

    @Test
    void mergeEnv_noPath_addsDockersDefault() {
        assertEquals(List.of("A=1", ProcessTemplate.DEFAULT_PATH), ProcessTemplate.mergeEnv(List.of("A=1"), List.of()));
    }

    @Test
    void mergeEnv_entryWithoutName_refused() {
        assertThrows(ContainerException.class, () -> ProcessTemplate.mergeEnv(List.of(), List.of("=x")));
    }

    @Test
    void user_uidOnly_gidEqualsUid() {
        Process p = ProcessTemplate.from(image(List.of(), List.of("x"), List.of(), "", "1000"), List.of(), List.of());
        assertEquals(1000, p.getUid());
        assertEquals(1000, p.getGid());
    }

    @Test
    void user_uidAndGid_both() {
        Process p = ProcessTemplate.from(image(List.of(), List.of("x"), List.of(), "", "12:34"), List.of(), List.of());
        assertEquals(12, p.getUid());
        assertEquals(34, p.getGid());
    }

    @Test
    void user_root_isZero() {
        Process p = ProcessTemplate.from(image(List.of(), List.of("x"), List.of(), "", "root"), List.of(), List.of());
        assertEquals(0, p.getUid());
    }

    @Test
    void user_name_refusedWithReason() {
        ContainerException e = assertThrows(ContainerException.class,
                () -> ProcessTemplate.from(image(List.of(), List.of("x"), List.of(), "", "nginx"), List.of(), List.of()));
        assertTrue(e.getMessage().contains("only numeric users"), e.getMessage());
    }
}
