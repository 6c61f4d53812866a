package dev.flotilla.controlplane.api;

import com.fasterxml.jackson.annotation.JsonInclude;

import java.util.List;

/** An RFC 9457 problem document, with {@code errors} listing invalid fields for validation failures. */
@JsonInclude(JsonInclude.Include.NON_NULL)
public record ProblemDetail(String type, String title, int status, String detail, List<FieldError> errors) {
}
