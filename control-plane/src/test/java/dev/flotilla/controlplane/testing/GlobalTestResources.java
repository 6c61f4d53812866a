package dev.flotilla.controlplane.testing;

import io.quarkus.test.common.QuarkusTestResource;

/** Registers the embedded database for every @QuarkusTest in the module (not restricted to one class). */
@QuarkusTestResource(value = EmbeddedPostgresTestResource.class, restrictToAnnotatedClass = false)
public final class GlobalTestResources {
    private GlobalTestResources() {
    }
}
