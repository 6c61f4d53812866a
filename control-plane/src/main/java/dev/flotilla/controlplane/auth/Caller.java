package dev.flotilla.controlplane.auth;

import java.util.Set;
import java.util.UUID;

/**
 * Who made a request.
 *
 * @param name   "admin", "read-only", "join" or "node:NAME", for logs and events
 * @param nodeId    for node tokens, the only node the caller may speak for
 * @param tokenHash for node tokens, the hash of the token presented; the node's row is the authority on
 *                  whether it is still current (a re-registration replaces it, on any replica)
 */
public record Caller(String name, Set<Scope> scopes, UUID nodeId, String tokenHash) {
    public static final Caller SYSTEM = new Caller("system", Set.of(Scope.READ, Scope.WRITE), null);

    public Caller(String name, Set<Scope> scopes, UUID nodeId) {
        this(name, scopes, nodeId, null);
    }
}
