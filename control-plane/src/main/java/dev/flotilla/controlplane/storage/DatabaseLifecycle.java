package dev.flotilla.controlplane.storage;

import io.quarkus.runtime.ShutdownEvent;
import jakarta.annotation.Priority;
import jakarta.enterprise.event.Observes;
import jakarta.inject.Singleton;

/** Lets the embedded database's shutdown hook know that the application is done with it. */
@Singleton
public class DatabaseLifecycle {
    void onStop(@Observes @Priority(Integer.MAX_VALUE) ShutdownEvent event) {
        EmbeddedDatabase.APPLICATION_STOPPED.countDown();
    }
}
