package dev.flotilla.controlplane.auth;

import dev.flotilla.controlplane.api.Problems;
import jakarta.inject.Inject;
import jakarta.ws.rs.container.ContainerRequestContext;
import jakarta.ws.rs.core.HttpHeaders;
import jakarta.ws.rs.core.Response;
import org.jboss.resteasy.reactive.server.ServerRequestFilter;
import org.jboss.resteasy.reactive.server.SimpleResourceInfo;

import java.lang.reflect.Method;
import java.util.Optional;

/**
 * Checks {@code Authorization: Bearer} against the scope an endpoint {@link Requires}. Endpoints without the
 * annotation (health, metrics, OpenAPI are outside JAX-RS anyway) are open.
 */
public class BearerAuthFilter {
    public static final String CALLER_PROPERTY = "flotilla.caller";

    @Inject
    Tokens tokens;

    @ServerRequestFilter
    public Response authenticate(ContainerRequestContext request, SimpleResourceInfo resource) {
        Requires requires = requirement(resource);
        if (requires == null) {
            return null;
        }
        String header = request.getHeaderString(HttpHeaders.AUTHORIZATION);
        if (header == null || !header.regionMatches(true, 0, "Bearer ", 0, 7) || header.length() <= 7) {
            return Problems.response(401, "Unauthorized",
                    "this endpoint needs an 'Authorization: Bearer <token>' header with " + requires.value() + " scope", null);
        }
        Optional<Caller> caller = tokens.resolve(header.substring(7).trim());
        if (caller.isEmpty()) {
            return Problems.response(401, "Unauthorized", "the bearer token is not known to this control plane", null);
        }
        if (!caller.get().scopes().contains(requires.value())) {
            return Problems.response(403, "Forbidden", "the " + caller.get().name() + " token lacks the "
                    + requires.value() + " scope this endpoint needs", null);
        }
        request.setProperty(CALLER_PROPERTY, caller.get());
        return null;
    }

    private final java.util.Map<String, Optional<Requires>> requirements = new java.util.concurrent.ConcurrentHashMap<>();

    private Requires requirement(SimpleResourceInfo resource) {
        String key = resource.getResourceClass().getName() + '#' + resource.getMethodName()
                + java.util.Arrays.toString(resource.parameterTypes());
        return requirements.computeIfAbsent(key, k -> Optional.ofNullable(lookup(resource))).orElse(null);
    }

    private static Requires lookup(SimpleResourceInfo resource) {
        try {
            Method method = resource.getResourceClass().getMethod(resource.getMethodName(), resource.parameterTypes());
            Requires onMethod = method.getAnnotation(Requires.class);
            return onMethod != null ? onMethod : resource.getResourceClass().getAnnotation(Requires.class);
        } catch (NoSuchMethodException e) {
            return resource.getResourceClass().getAnnotation(Requires.class);
        }
    }
}
