package dev.flotilla.controlplane.api;

import com.fasterxml.jackson.annotation.JsonInclude;

import java.util.List;

/**
 * One page of a list. Pass {@code nextCursor} back as {@code cursor} for the next page; it is absent on the last.
 */
@JsonInclude(JsonInclude.Include.NON_NULL)
public record Page<T>(List<T> items, String nextCursor) {
}
