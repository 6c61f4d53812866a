/**
 * Test infrastructure: one embedded PostgreSQL per test JVM ({@link dev.flotilla.controlplane.testing.EmbeddedPostgresTestResource},
 * registered globally by {@link dev.flotilla.controlplane.testing.GlobalTestResources}) and a real HTTP node agent
 * ({@link dev.flotilla.controlplane.testing.FakeNodeAgent}) speaking the contract.
 */
package dev.flotilla.controlplane.testing;
