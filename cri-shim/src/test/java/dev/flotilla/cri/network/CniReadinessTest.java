package dev.flotilla.cri.network;

import dev.flotilla.cri.backend.RuntimeReadiness.Condition;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.util.List;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

class CniReadinessTest {

    private static final String BRIDGE_CONFLIST = """
            {"cniVersion":"1.0.0","name":"flotilla","plugins":[
              {"type":"bridge","bridge":"cni0","ipam":{"type":"host-local","ranges":[[{"subnet":"10.88.0.0/16"}]]}},
              {"type":"portmap","capabilities":{"portMappings":true}}]}
            """;

    @TempDir
    Path dir;

    private Path conf() throws IOException {
        return Files.createDirectories(dir.resolve("net.d"));
    }

    private Path bin(String... plugins) throws IOException {
        Path bin = Files.createDirectories(dir.resolve("bin"));
        for (String plugin : plugins) {
            Path p = Files.writeString(bin.resolve(plugin), "#!/bin/sh\n");
            Files.setPosixFilePermissions(p, PosixFilePermissions.fromString("rwxr-xr-x"));
        }
        return bin;
    }

    @Test
    void check_missingConfDir_notReadyNamingDir() {
        Path missing = dir.resolve("absent");
        Condition c = new CniReadiness(missing, List.of()).check();
        assertFalse(c.ready());
        assertEquals(CniReadiness.NOT_READY_REASON, c.reason());
        assertTrue(c.message().contains(missing.toString()), c.message());
    }

    @Test
    void check_emptyConfDir_notReady() throws IOException {
        Condition c = new CniReadiness(conf(), List.of(bin())).check();
        assertFalse(c.ready());
        assertTrue(c.message().contains("no CNI network configuration"), c.message());
    }

    @Test
    void check_configWithAllPluginsInstalled_ready() throws IOException {
        Path conf = conf();
        Files.writeString(conf.resolve("10-flotilla.conflist"), BRIDGE_CONFLIST);
        assertTrue(new CniReadiness(conf, List.of(bin("bridge", "host-local", "portmap"))).check().ready());
    }

    @Test
    void check_pluginMissing_notReadyNamingPlugin() throws IOException {
        Path conf = conf();
        Files.writeString(conf.resolve("10-flotilla.conflist"), BRIDGE_CONFLIST);
        Condition c = new CniReadiness(conf, List.of(bin("bridge", "host-local"))).check();
        assertFalse(c.ready());
        assertTrue(c.message().contains("[portmap]"), c.message());
    }

    @Test
    void check_severalConfigs_firstInLexicalOrderDecides() throws IOException {
        Path conf = conf();
        Files.writeString(conf.resolve("20-other.conf"), "{\"type\":\"missing-plugin\"}");
        Files.writeString(conf.resolve("10-flotilla.conflist"), BRIDGE_CONFLIST);
        assertTrue(new CniReadiness(conf, List.of(bin("bridge", "host-local", "portmap"))).check().ready());
    }
}
