package dev.flotilla.controlplane.health;

import dev.flotilla.controlplane.config.FlotillaConfig;
import dev.flotilla.controlplane.placement.PlacementEngine;
import dev.flotilla.controlplane.reconcile.Reconciler;
import jakarta.enterprise.context.ApplicationScoped;
import jakarta.inject.Inject;
import org.eclipse.microprofile.health.HealthCheck;
import org.eclipse.microprofile.health.HealthCheckResponse;
import org.eclipse.microprofile.health.Liveness;
import org.eclipse.microprofile.health.Readiness;

import java.time.Duration;
import java.time.Instant;

/** Health beyond the datasource check Quarkus adds: placement cache loaded, reconciler loop alive. */
public class ControlPlaneHealth {

    @Readiness
    @ApplicationScoped
    public static class PlacementReady implements HealthCheck {
        @Inject
        PlacementEngine placement;

        @Override
        public HealthCheckResponse call() {
            return HealthCheckResponse.named("placement").status(placement.ready())
                    .withData("queued", placement.queued()).build();
        }
    }

    @Liveness
    @ApplicationScoped
    public static class ReconcilerAlive implements HealthCheck {
        @Inject
        Reconciler reconciler;
        @Inject
        FlotillaConfig config;

        @Override
        public HealthCheckResponse call() {
            Duration since = Duration.between(reconciler.lastTick(), Instant.now());
            Duration limit = config.reconciler().interval().multipliedBy(30).plusSeconds(30);
            return HealthCheckResponse.named("reconciler").status(since.compareTo(limit) < 0)
                    .withData("lastPassAgoMillis", since.toMillis()).build();
        }
    }
}
