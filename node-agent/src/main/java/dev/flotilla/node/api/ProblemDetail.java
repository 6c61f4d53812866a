package dev.flotilla.node.api;

import com.fasterxml.jackson.annotation.JsonInclude;

import java.util.List;

/**
 * An RFC 9457 {@code application/problem+json} body. The first four fields are those of the contract's
 * {@link dev.flotilla.contract.v1.Problem}; {@code errors} lists the invalid fields of a rejected request.
 */
@JsonInclude(JsonInclude.Include.NON_NULL)
public record ProblemDetail(String type, String title, int status, String detail, List<FieldError> errors) {
    public static final String MEDIA_TYPE = "application/problem+json";
}
