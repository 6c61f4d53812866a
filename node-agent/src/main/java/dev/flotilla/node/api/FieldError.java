package dev.flotilla.node.api;

/** One invalid field of a request: its name in the body ("vcpus", "labels.app") and what is wrong with it. */
public record FieldError(String field, String message) {
}
