package dev.flotilla.controlplane.ui;

import com.fasterxml.jackson.core.JsonProcessingException;
import dev.flotilla.controlplane.api.ApiException;
import dev.flotilla.controlplane.api.FieldError;
import dev.flotilla.controlplane.api.ProblemDetail;
import dev.flotilla.controlplane.api.Problems;
import io.quarkus.qute.TemplateData;
import jakarta.validation.ConstraintViolation;
import jakarta.validation.ConstraintViolationException;

import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.Set;
import java.util.concurrent.CompletionException;
import java.util.concurrent.ExecutionException;

/**
 * An error as the dashboard shows it: the same status, sentence and field list the REST API would answer, so a
 * user of the UI reads what a user of the API reads.
 */
@TemplateData
public record UiProblem(int status, String title, String detail, List<FieldError> errors) {
    private static final Problems PROBLEMS = new Problems();

    /** The message for one field, or null: used to put errors next to their form inputs. */
    public String errorFor(String field) {
        if (errors == null) {
            return null;
        }
        for (FieldError error : errors) {
            if (error.field().equals(field) || error.field().startsWith(field + "[") || error.field().startsWith(field + ".")) {
                return (error.field().equals(field) ? "" : error.field().substring(field.length()) + " ") + error.message();
            }
        }
        return null;
    }

    /** Turns what an API call threw into the problem the API would have answered. */
    public static UiProblem from(Throwable failure) {
        Throwable cause = failure;
        while ((cause instanceof CompletionException || cause instanceof ExecutionException
                || (cause instanceof IllegalArgumentException && cause.getCause() instanceof JsonProcessingException))
                && cause.getCause() != null) {
            cause = cause.getCause();
        }
        jakarta.ws.rs.core.Response response = switch (cause) {
            case ApiException api -> PROBLEMS.api(api);
            case JsonProcessingException json -> PROBLEMS.json(json);
            case ConstraintViolationException violations -> PROBLEMS.validation(violations);
            case RuntimeException other -> PROBLEMS.unexpected(other);
            default -> Problems.response(500, "Internal Server Error",
                    "the control plane failed to handle the request: " + cause.getMessage(), null);
        };
        ProblemDetail problem = (ProblemDetail) response.getEntity();
        return new UiProblem(problem.status(), problem.title(), problem.detail(), problem.errors());
    }

    /**
     * Violations of a request body validated directly (paths are "vcpus", "tolerations[0].operator"), written as the
     * API writes them for the same body.
     */
    public static UiProblem invalid(Set<? extends ConstraintViolation<?>> violations) {
        List<FieldError> errors = new ArrayList<>();
        for (ConstraintViolation<?> violation : violations) {
            errors.add(new FieldError(violation.getPropertyPath().toString(), violation.getMessage()));
        }
        errors.sort(Comparator.comparing(FieldError::field));
        String detail = "the request is invalid: " + String.join("; ",
                errors.stream().map(error -> error.field() + " " + error.message()).toList());
        return new UiProblem(400, "Bad Request", detail, errors);
    }

    public static UiProblem of(int status, String title, String detail) {
        return new UiProblem(status, title, detail, List.of());
    }
}
