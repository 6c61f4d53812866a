package dev.flotilla.controlplane.auth;

import java.util.Set;
import java.util.UUID;

/**
 * Who made a request.
 *
 * @param name   "admin", "read-only", "join" or "node:NAME", for logs and events
 * @param nodeId for node tokens, the only node the caller may speak for
 */
public record Caller(String name, Set<Scope> scopes, UUID nodeId) {
    public static final Caller SYSTEM = new Caller("system", Set.of(Scope.READ, Scope.WRITE), null);
}
