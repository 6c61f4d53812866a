package dev.flotilla.images.registry;

import org.junit.jupiter.api.Test;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

class AuthChallengeTest {
    @Test
    void parse_dockerHubBearer_readsRealmServiceScope() {
        AuthChallenge challenge = AuthChallenge.parse(
                "Bearer realm=\"https://auth.docker.io/token\",service=\"registry.docker.io\",scope=\"repository:library/busybox:pull\"");

        assertEquals("bearer", challenge.scheme());
        assertEquals("https://auth.docker.io/token", challenge.parameter("realm"));
        assertEquals("registry.docker.io", challenge.parameter("service"));
        assertEquals("repository:library/busybox:pull", challenge.parameter("scope"));
    }

    @Test
    void parse_scopeWithCommaAndEscapedQuote_keepsValueWhole() {
        AuthChallenge challenge = AuthChallenge.parse("Bearer realm=\"https://a/t\", scope=\"repository:x:pull,push\", error=\"say \\\"hi\\\"\"");

        assertEquals("repository:x:pull,push", challenge.parameter("scope"));
        assertEquals("say \"hi\"", challenge.parameter("error"));
    }

    @Test
    void parse_basicWithUnquotedRealm_readsIt() {
        AuthChallenge challenge = AuthChallenge.parse("Basic realm=registry");

        assertEquals("basic", challenge.scheme());
        assertEquals("registry", challenge.parameter("realm"));
    }

    @Test
    void parse_missingHeader_isRefused() {
        assertThrows(IllegalArgumentException.class, () -> AuthChallenge.parse(null));
    }
}
