/**
 * Where fleet state lives. The schema is in Flyway migrations ({@code db/migration}); when no
 * {@code quarkus.datasource.jdbc.url} is configured, {@link dev.flotilla.controlplane.ControlPlaneMain} starts an
 * {@link dev.flotilla.controlplane.storage.EmbeddedDatabase} before Quarkus and points the datasource at it.
 */
package dev.flotilla.controlplane.storage;
