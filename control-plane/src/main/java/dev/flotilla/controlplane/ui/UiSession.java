package dev.flotilla.controlplane.ui;

import dev.flotilla.controlplane.auth.Caller;
import dev.flotilla.controlplane.auth.Scope;

import java.time.Instant;

/**
 * One signed-in browser. The bearer token stays on the server: the browser holds only the random session id in an
 * HttpOnly cookie. The token is resolved again on every request, so a token removed from the configuration stops
 * working for open sessions too.
 */
public final class UiSession {
    private final String id;
    private final String token;
    private volatile Caller caller;
    private volatile Instant lastSeen;
    /** A one-shot message for the next page ("sandbox web-1 is being deleted"). */
    private volatile String notice;

    UiSession(String id, String token, Caller caller, Instant now) {
        this.id = id;
        this.token = token;
        this.caller = caller;
        this.lastSeen = now;
    }

    public String id() {
        return id;
    }

    String token() {
        return token;
    }

    public Caller caller() {
        return caller;
    }

    void refresh(Caller caller, Instant now) {
        this.caller = caller;
        this.lastSeen = now;
    }

    Instant lastSeen() {
        return lastSeen;
    }

    /** Whether this user may change things: admin tokens may, read-only tokens may not. */
    public boolean canWrite() {
        return caller.scopes().contains(Scope.WRITE);
    }

    public String role() {
        return canWrite() ? "admin" : "read-only";
    }

    public void notice(String message) {
        this.notice = message;
    }

    /** The pending notice, cleared by reading it. */
    public String takeNotice() {
        String message = notice;
        notice = null;
        return message;
    }
}
