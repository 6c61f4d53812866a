package dev.flotilla.controlplane.api;

/** One invalid field of a request: its path in the body or query ("spec.vcpus", "limit") and what is wrong. */
public record FieldError(String field, String message) {
}
