package dev.flotilla.node.api;

import com.fasterxml.jackson.databind.ObjectMapper;
import io.vertx.ext.web.Router;
import io.vertx.ext.web.RoutingContext;
import jakarta.enterprise.event.Observes;
import jakarta.inject.Inject;
import jakarta.inject.Singleton;

/**
 * Bearer-token check in front of every route, REST and WebSocket alike (one filter on the Vert.x router, so a
 * new endpoint cannot forget it). Open: {@code /q/health*} and {@code /q/metrics} (scraped by infrastructure
 * that holds no token) and the OpenAPI document. WebSocket clients that cannot set headers (browsers) may pass
 * {@code ?access_token=}.
 */
@Singleton
public class BearerAuth {
    @Inject
    ApiTokens tokens;
    @Inject
    ObjectMapper json;

    void install(@Observes Router router) {
        router.route().order(-1000).handler(this::check);
    }

    private void check(RoutingContext ctx) {
        String path = ctx.normalizedPath();
        if (path.startsWith("/q/health") || path.equals("/q/metrics") || path.startsWith("/q/openapi")) {
            ctx.next();
            return;
        }
        String header = ctx.request().getHeader("Authorization");
        String token = null;
        if (header != null && header.regionMatches(true, 0, "Bearer ", 0, 7)) {
            token = header.substring(7).strip();
        } else if (header == null) {
            token = ctx.request().getParam("access_token");
        }
        if (tokens.accepts(token)) {
            ctx.next();
            return;
        }
        String detail = header == null && token == null
                ? "this API needs a bearer token: send Authorization: Bearer <token> (see <state-dir>/api-token)"
                : "the bearer token is not valid for this node agent";
        try {
            ctx.response().setStatusCode(401).putHeader("Content-Type", ProblemDetail.MEDIA_TYPE)
                    .putHeader("WWW-Authenticate", "Bearer")
                    .end(json.writeValueAsString(new ProblemDetail("about:blank", "Unauthorized", 401, detail, null)));
        } catch (com.fasterxml.jackson.core.JsonProcessingException e) {
            ctx.fail(e);
        }
    }
}
