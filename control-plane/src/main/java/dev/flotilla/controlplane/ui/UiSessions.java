package dev.flotilla.controlplane.ui;

import dev.flotilla.controlplane.auth.Caller;
import dev.flotilla.controlplane.auth.Scope;
import dev.flotilla.controlplane.auth.Tokens;
import jakarta.inject.Inject;
import jakarta.inject.Singleton;

import java.security.SecureRandom;
import java.time.Instant;
import java.util.Comparator;
import java.util.HexFormat;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.ConcurrentHashMap;

/**
 * Dashboard sessions, in memory: a restart (or another replica) asks the user for the token again, which keeps
 * bearer tokens out of the database and out of the browser.
 */
@Singleton
public class UiSessions {
    public static final String COOKIE = "flotilla_session";
    private static final SecureRandom RANDOM = new SecureRandom();

    @Inject
    Tokens tokens;
    @Inject
    UiConfig config;

    private final Map<String, UiSession> sessions = new ConcurrentHashMap<>();

    /** What a login attempt gave: a session, or the sentence telling the user why not. */
    public sealed interface Login {
        record Accepted(UiSession session) implements Login {
        }

        record Refused(String reason) implements Login {
        }
    }

    public Login login(String token) {
        String trimmed = token == null ? "" : token.trim();
        if (trimmed.isEmpty()) {
            return new Login.Refused("Enter an API token (the admin-token file in the control plane's data directory, "
                    + "or a configured read-only token).");
        }
        if (trimmed.length() > 512) {
            return new Login.Refused("That is not a token of this control plane: tokens are shorter than 512 characters.");
        }
        Optional<Caller> caller = tokens.resolve(trimmed);
        if (caller.isEmpty()) {
            return new Login.Refused("This token is not known to this control plane.");
        }
        if (!caller.get().scopes().contains(Scope.READ)) {
            return new Login.Refused("This is a " + caller.get().name().replaceFirst(":.*", "")
                    + " token, which cannot read the fleet; sign in with an admin or read-only token.");
        }
        evictIfFull();
        byte[] bytes = new byte[32];
        RANDOM.nextBytes(bytes);
        UiSession session = new UiSession(HexFormat.of().formatHex(bytes), trimmed, caller.get(), Instant.now());
        sessions.put(session.id(), session);
        return new Login.Accepted(session);
    }

    /** The live session for a cookie value, with its token checked again; empty when expired or revoked. */
    public Optional<UiSession> find(String id) {
        if (id == null || id.isEmpty()) {
            return Optional.empty();
        }
        UiSession session = sessions.get(id);
        if (session == null) {
            return Optional.empty();
        }
        Instant now = Instant.now();
        if (session.lastSeen().plus(config.sessionIdleTimeout()).isBefore(now)) {
            sessions.remove(id);
            return Optional.empty();
        }
        Optional<Caller> caller = tokens.resolve(session.token());
        if (caller.isEmpty() || !caller.get().scopes().contains(Scope.READ)) {
            sessions.remove(id);
            return Optional.empty();
        }
        session.refresh(caller.get(), now);
        return Optional.of(session);
    }

    public void logout(String id) {
        if (id != null) {
            sessions.remove(id);
        }
    }

    private void evictIfFull() {
        while (sessions.size() >= config.maxSessions()) {
            sessions.values().stream().min(Comparator.comparing(UiSession::lastSeen))
                    .ifPresent(oldest -> sessions.remove(oldest.id()));
        }
    }
}
