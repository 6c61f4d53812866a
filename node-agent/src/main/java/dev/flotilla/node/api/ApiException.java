package dev.flotilla.node.api;

import java.util.List;

/** A request the agent refuses, with the HTTP status and the sentence the caller sees. */
public class ApiException extends RuntimeException {
    private final int status;
    private final List<FieldError> errors;

    public ApiException(int status, String detail) {
        this(status, detail, null);
    }

    public ApiException(int status, String detail, List<FieldError> errors) {
        super(detail);
        this.status = status;
        this.errors = errors == null || errors.isEmpty() ? null : List.copyOf(errors);
    }

    public static ApiException invalid(List<FieldError> errors) {
        StringBuilder detail = new StringBuilder("the request is invalid: ");
        for (int i = 0; i < errors.size(); i++) {
            detail.append(i == 0 ? "" : "; ").append(errors.get(i).field()).append(' ').append(errors.get(i).message());
        }
        return new ApiException(400, detail.toString(), errors);
    }

    public static ApiException notFound(String what) {
        return new ApiException(404, what + " does not exist");
    }

    public int status() {
        return status;
    }

    public List<FieldError> errors() {
        return errors;
    }
}
