package dev.flotilla.cri.registry;

import org.junit.jupiter.api.Test;

import java.net.URI;
import java.util.List;
import java.util.Map;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

class RegistryHostsTest {

    @Test
    void endpointsFor_unconfiguredHost_httpsOriginOnly() {
        assertEquals(List.of(new RegistryEndpoint(URI.create("https://quay.io"), false)),
                RegistryHosts.none().endpointsFor("quay.io"));
    }

    @Test
    void endpointsFor_dockerHub_originIsRegistry1() {
        assertEquals(URI.create("https://registry-1.docker.io"),
                RegistryHosts.none().endpointsFor("docker.io").getLast().baseUrl());
    }

    @Test
    void endpointsFor_mirrors_triedInOrderBeforeOrigin() {
        RegistryHosts hosts = RegistryHosts.fromProperties(Map.of(
                "docker.io.mirrors", "https://mirror.internal:5000, http://10.0.0.5:5000"));
        assertEquals(List.of(new RegistryEndpoint(URI.create("https://mirror.internal:5000"), true),
                new RegistryEndpoint(URI.create("http://10.0.0.5:5000"), true),
                new RegistryEndpoint(URI.create("https://registry-1.docker.io"), false)),
                hosts.endpointsFor("docker.io"));
    }

    @Test
    void endpointsFor_insecureHostWithPort_plainHttpOrigin() {
        RegistryHosts hosts = RegistryHosts.fromProperties(Map.of("registry.local:5000.insecure", "true"));
        RegistryEndpoint origin = hosts.endpointsFor("registry.local:5000").getFirst();
        assertEquals(URI.create("http://registry.local:5000"), origin.baseUrl());
        assertTrue(origin.plainHttp());
    }

    @Test
    void fromProperties_unknownSetting_rejectedNamingKey() {
        var e = assertThrows(IllegalArgumentException.class,
                () -> RegistryHosts.fromProperties(Map.of("docker.io.mirror", "https://m")));
        assertTrue(e.getMessage().contains("docker.io.mirror"), e.getMessage());
    }

    @Test
    void fromProperties_insecureNotBoolean_rejected() {
        assertThrows(IllegalArgumentException.class,
                () -> RegistryHosts.fromProperties(Map.of("r.example.insecure", "yes")));
    }

    @Test
    void fromProperties_mirrorWithoutHttpScheme_rejected() {
        var e = assertThrows(IllegalArgumentException.class,
                () -> RegistryHosts.fromProperties(Map.of("docker.io.mirrors", "ftp://mirror")));
        assertTrue(e.getMessage().contains("http://"), e.getMessage());
    }

    @Test
    void fromProperties_mirrorWithCredentialsInUrl_rejected() {
        assertThrows(IllegalArgumentException.class,
                () -> RegistryHosts.fromProperties(Map.of("docker.io.mirrors", "https://u:p@mirror")));
    }

    @Test
    void registryHost_badHostName_rejected() {
        assertThrows(IllegalArgumentException.class, () -> RegistryHost.of("bad host", List.of(), false));
        assertThrows(IllegalArgumentException.class, () -> RegistryHost.of("r.example:70000", List.of(), false));
    }

    @Test
    void of_sameHostTwice_rejected() {
        assertThrows(IllegalArgumentException.class, () -> RegistryHosts.of(List.of(
                RegistryHost.of("quay.io", List.of(), false), RegistryHost.of("QUAY.io", List.of(), true))));
    }
}
