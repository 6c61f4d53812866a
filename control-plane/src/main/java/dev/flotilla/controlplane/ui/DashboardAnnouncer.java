package dev.flotilla.controlplane.ui;

import io.quarkus.vertx.http.HttpServerStart;
import jakarta.enterprise.event.Observes;
import jakarta.inject.Singleton;
import org.jboss.logging.Logger;

/** Logs where the dashboard is once the HTTP server listens (the port may have been chosen at start). */
@Singleton
public class DashboardAnnouncer {
    private static final Logger LOG = Logger.getLogger(DashboardAnnouncer.class);

    void onHttpStart(@Observes HttpServerStart start) {
        String host = start.options().getHost();
        if (host == null || host.equals("0.0.0.0") || host.equals("::")) {
            host = "localhost";
        }
        LOG.infof("web dashboard: http://%s:%d/ui (sign in with an admin or read-only API token)", host,
                start.options().getPort());
    }
}
