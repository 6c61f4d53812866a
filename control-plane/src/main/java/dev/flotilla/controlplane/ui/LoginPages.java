package dev.flotilla.controlplane.ui;

import io.quarkus.qute.Location;
import io.quarkus.qute.Template;
import io.quarkus.qute.TemplateInstance;
import jakarta.inject.Inject;
import jakarta.ws.rs.CookieParam;
import jakarta.ws.rs.FormParam;
import jakarta.ws.rs.GET;
import jakarta.ws.rs.POST;
import jakarta.ws.rs.Path;
import jakarta.ws.rs.Produces;
import jakarta.ws.rs.QueryParam;
import jakarta.ws.rs.core.Context;
import jakarta.ws.rs.core.HttpHeaders;
import jakarta.ws.rs.core.MediaType;
import jakarta.ws.rs.core.NewCookie;
import jakarta.ws.rs.core.Response;
import jakarta.ws.rs.core.UriInfo;

import java.net.URI;

/** Sign in with an API bearer token (entered once, then a session cookie) and sign out. */
@Path("/ui")
@Produces(MediaType.TEXT_HTML)
public class LoginPages {
    @Inject
    UiSessions sessions;
    @Inject
    @Location("ui/login.html")
    Template login;

    @GET
    @Path("/login")
    public TemplateInstance form(@QueryParam("next") String next) {
        return login.data("error", null).data("next", safeNext(next));
    }

    @POST
    @Path("/login")
    public Response signIn(@FormParam("token") String token, @FormParam("next") String next,
                           @Context HttpHeaders headers, @Context UriInfo uri) {
        return switch (sessions.login(token)) {
            case UiSessions.Login.Accepted accepted -> Response.seeOther(URI.create(safeNext(next)))
                    .cookie(cookie(accepted.session().id(), secure(headers, uri), -1)).build();
            case UiSessions.Login.Refused refused -> Response.status(401).type(MediaType.TEXT_HTML_TYPE)
                    .entity(login.data("error", refused.reason()).data("next", safeNext(next)).render()).build();
        };
    }

    @POST
    @Path("/logout")
    public Response signOut(@CookieParam(UiSessions.COOKIE) String session, @Context HttpHeaders headers, @Context UriInfo uri) {
        sessions.logout(session);
        return Response.seeOther(URI.create("/ui/login")).cookie(cookie("", secure(headers, uri), 0)).build();
    }

    /** Only paths of the dashboard itself: never another site ("//evil.example") after signing in. */
    static String safeNext(String next) {
        if (next == null || !next.startsWith("/ui") || next.startsWith("//") || next.contains("\\")
                || next.startsWith("/ui/login") || next.startsWith("/ui/logout") || next.startsWith("/ui/events")) {
            return "/ui";
        }
        return next;
    }

    private static NewCookie cookie(String value, boolean secure, int maxAge) {
        // Lax, not Strict: a link to the dashboard from elsewhere still finds the session; POSTs are origin-checked.
        return new NewCookie.Builder(UiSessions.COOKIE).value(value).path("/ui").httpOnly(true).secure(secure)
                .sameSite(NewCookie.SameSite.LAX).maxAge(maxAge).build();
    }

    private static boolean secure(HttpHeaders headers, UriInfo uri) {
        String forwarded = headers.getHeaderString("X-Forwarded-Proto");
        return "https".equalsIgnoreCase(forwarded) || "https".equalsIgnoreCase(uri.getRequestUri().getScheme());
    }
}
