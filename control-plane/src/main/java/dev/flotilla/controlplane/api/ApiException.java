package dev.flotilla.controlplane.api;

import java.util.List;

/** A request the API refuses, turned into an {@code application/problem+json} response. */
public class ApiException extends RuntimeException {
    private final int status;
    private final String title;
    private final List<FieldError> errors;

    public ApiException(int status, String title, String detail) {
        this(status, title, detail, null);
    }

    public ApiException(int status, String title, String detail, List<FieldError> errors) {
        super(detail);
        this.status = status;
        this.title = title;
        this.errors = errors;
    }

    public static ApiException notFound(String what) {
        return new ApiException(404, "Not Found", what + " does not exist");
    }

    public static ApiException conflict(String detail) {
        return new ApiException(409, "Conflict", detail);
    }

    public static ApiException badRequest(String field, String message) {
        return new ApiException(400, "Bad Request", "the request is invalid: " + field + " " + message,
                List.of(new FieldError(field, message)));
    }

    public int status() {
        return status;
    }

    public String title() {
        return title;
    }

    public List<FieldError> errors() {
        return errors;
    }
}
