package dev.flotilla.cri.service;

import dev.flotilla.cri.CriException;
import dev.flotilla.cri.backend.RegistryAuth;
import dev.flotilla.cri.v1.AuthConfig;
import org.junit.jupiter.api.Test;

import java.nio.charset.StandardCharsets;
import java.util.Base64;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;

class ImageServiceImplTest {

    private static String b64(String s) {
        return Base64.getEncoder().encodeToString(s.getBytes(StandardCharsets.UTF_8));
    }

    @Test
    void auth_dockerConfigAuthField_splitAtFirstColon() {
        RegistryAuth auth = ImageServiceImpl.auth(AuthConfig.newBuilder().setServerAddress("registry.local:5000")
                .setAuth(b64("robot:pa:ss")).build());
        assertEquals("robot", auth.username());
        assertEquals("pa:ss", auth.password());
        assertEquals("registry.local:5000", auth.serverAddress());
    }

    @Test
    void auth_authFieldAndUsernameBoth_authFieldWins() {
        RegistryAuth auth = ImageServiceImpl.auth(AuthConfig.newBuilder().setUsername("other").setPassword("x")
                .setAuth(b64("robot:secret")).build());
        assertEquals("robot", auth.username());
    }

    @Test
    void auth_authFieldWithoutColon_invalidArgument() {
        CriException e = assertThrows(CriException.class,
                () -> ImageServiceImpl.auth(AuthConfig.newBuilder().setAuth(b64("robot")).build()));
        assertEquals(CriException.Reason.INVALID_ARGUMENT, e.reason());
    }

    @Test
    void auth_passwordWithoutUser_invalidArgument() {
        assertThrows(CriException.class,
                () -> ImageServiceImpl.auth(AuthConfig.newBuilder().setPassword("secret").build()));
    }

    @Test
    void auth_toString_hidesSecrets() {
        RegistryAuth auth = ImageServiceImpl.auth(AuthConfig.newBuilder().setUsername("robot").setPassword("s3cr3t")
                .setRegistryToken("t0k3n").build());
        assertFalse(auth.toString().contains("s3cr3t"), auth.toString());
        assertFalse(auth.toString().contains("t0k3n"), auth.toString());
    }
}
