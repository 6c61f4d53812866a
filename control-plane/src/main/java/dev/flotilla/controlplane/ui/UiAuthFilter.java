package dev.flotilla.controlplane.ui;

import jakarta.inject.Inject;
import jakarta.ws.rs.container.ContainerRequestContext;
import jakarta.ws.rs.core.Cookie;
import jakarta.ws.rs.core.HttpHeaders;
import jakarta.ws.rs.core.MediaType;
import jakarta.ws.rs.core.Response;
import org.jboss.resteasy.reactive.server.ServerRequestFilter;

import java.net.URI;
import java.net.URLEncoder;
import java.nio.charset.StandardCharsets;
import java.util.Optional;

/**
 * Guards every {@code /ui} page: a session cookie is required (else the login page), and a POST must come from a
 * page of this same origin (the Origin or Referer header names this host), which together with the SameSite=Strict
 * cookie keeps other sites from submitting the dashboard's forms.
 */
public class UiAuthFilter {
    static final String SESSION_PROPERTY = "flotilla.ui.session";

    @Inject
    UiSessions sessions;

    @ServerRequestFilter
    public Response authenticate(ContainerRequestContext request) {
        String path = request.getUriInfo().getRequestUri().getPath();
        if (!(path.equals("/ui") || path.startsWith("/ui/")) || path.equals("/ui/login")) {
            return null;
        }
        boolean post = "POST".equals(request.getMethod());
        if (post && !sameOrigin(request)) {
            return Response.status(403).type(MediaType.TEXT_PLAIN_TYPE)
                    .entity("This form was submitted from another site (or without an Origin header); "
                            + "open the dashboard and submit it from there.").build();
        }
        Cookie cookie = request.getCookies().get(UiSessions.COOKIE);
        Optional<UiSession> session = sessions.find(cookie == null ? null : cookie.getValue());
        if (session.isPresent()) {
            request.setProperty(SESSION_PROPERTY, session.get());
            return null;
        }
        String next = request.getUriInfo().getRequestUri().getRawPath();
        String query = request.getUriInfo().getRequestUri().getRawQuery();
        if (query != null && !post) {
            next += "?" + query;
        }
        URI login = URI.create("/ui/login?next=" + URLEncoder.encode(next, StandardCharsets.UTF_8));
        if (request.getHeaderString("HX-Request") != null) {
            // htmx follows HX-Redirect with a full page load: the login page replaces the whole window.
            return Response.status(401).header("HX-Redirect", login.toString()).build();
        }
        // Pages redirect to the login page; the event streams and chart data (fetched by scripts) get a plain 401.
        if (!post && !path.equals("/ui/events") && !path.startsWith("/ui/data/") && !path.endsWith("/logs/stream")) {
            return Response.seeOther(login).build();
        }
        return Response.status(401).type(MediaType.TEXT_PLAIN_TYPE)
                .entity("Your dashboard session has ended; sign in again at /ui/login.").build();
    }

    private static boolean sameOrigin(ContainerRequestContext request) {
        String host = request.getHeaderString(HttpHeaders.HOST);
        if (host == null) {
            return false;
        }
        String origin = request.getHeaderString("Origin");
        if (origin == null || origin.equals("null")) {
            origin = request.getHeaderString("Referer");
        }
        if (origin == null) {
            return false;
        }
        try {
            URI uri = URI.create(origin);
            String authority = uri.getRawAuthority();
            return authority != null && authority.equalsIgnoreCase(host);
        } catch (IllegalArgumentException e) {
            return false;
        }
    }

    static UiSession session(ContainerRequestContext request) {
        UiSession session = (UiSession) request.getProperty(SESSION_PROPERTY);
        if (session == null) {
            throw new IllegalStateException("a /ui page was reached without the session filter");
        }
        return session;
    }
}
