package dev.flotilla.controlplane.api;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.JsonMappingException;
import com.fasterxml.jackson.databind.exc.InvalidFormatException;
import com.fasterxml.jackson.databind.exc.MismatchedInputException;
import com.fasterxml.jackson.databind.exc.UnrecognizedPropertyException;
import jakarta.validation.ConstraintViolation;
import jakarta.validation.ConstraintViolationException;
import jakarta.ws.rs.WebApplicationException;
import jakarta.ws.rs.core.Response;
import org.jboss.logging.Logger;
import org.jboss.resteasy.reactive.server.ServerExceptionMapper;

import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;

/** Turns every error the API can produce into {@code application/problem+json}. */
public class Problems {
    public static final String MEDIA_TYPE = "application/problem+json";
    private static final Logger LOG = Logger.getLogger(Problems.class);

    public static Response response(int status, String title, String detail, List<FieldError> errors) {
        return Response.status(status).type(MEDIA_TYPE)
                .entity(new ProblemDetail("about:blank", title, status, detail, errors)).build();
    }

    @ServerExceptionMapper
    public Response api(ApiException e) {
        return response(e.status(), e.title(), e.getMessage(), e.errors());
    }

    @ServerExceptionMapper
    public Response validation(ConstraintViolationException e) {
        List<FieldError> errors = new ArrayList<>();
        for (ConstraintViolation<?> violation : e.getConstraintViolations()) {
            errors.add(new FieldError(fieldPath(violation.getPropertyPath().toString()), violation.getMessage()));
        }
        errors.sort(Comparator.comparing(FieldError::field));
        String detail = "the request is invalid: " + String.join("; ",
                errors.stream().map(error -> error.field() + " " + error.message()).toList());
        return response(400, "Bad Request", detail, errors);
    }

    @ServerExceptionMapper(priority = 1)
    public Response json(JsonProcessingException e) {
        String field = e instanceof JsonMappingException mapping ? path(mapping) : null;
        String message = switch (e) {
            case UnrecognizedPropertyException unknown -> "is not a known field";
            case InvalidFormatException format -> "has an invalid value '" + format.getValue() + "' (expected "
                    + format.getTargetType().getSimpleName() + ")";
            case MismatchedInputException mismatch -> "has the wrong type (expected "
                    + (mismatch.getTargetType() == null ? "another type" : mismatch.getTargetType().getSimpleName()) + ")";
            default -> "is not valid JSON: " + e.getOriginalMessage();
        };
        if (field == null || field.isEmpty()) {
            return response(400, "Bad Request", "the request body " + message, List.of(new FieldError("body", message)));
        }
        return response(400, "Bad Request", "the request is invalid: " + field + " " + message,
                List.of(new FieldError(field, message)));
    }

    @ServerExceptionMapper(priority = 1)
    public Response mismatched(MismatchedInputException e) {
        return json(e);
    }

    @ServerExceptionMapper(priority = 1)
    public Response unparsable(com.fasterxml.jackson.core.JsonParseException e) {
        return json(e);
    }

    @ServerExceptionMapper
    public Response web(WebApplicationException e) {
        if (e.getCause() instanceof JsonProcessingException cause) {
            return json(cause);
        }
        int status = e.getResponse().getStatus();
        String title = e.getResponse().getStatusInfo().getReasonPhrase();
        return response(status, title, e.getMessage(), null);
    }

    @ServerExceptionMapper
    public Response concurrentChange(jakarta.persistence.OptimisticLockException e) {
        return response(409, "Conflict", "the resource was changed concurrently; read it again and retry", null);
    }

    @ServerExceptionMapper
    public Response unexpected(RuntimeException e) {
        if (e.getCause() instanceof jakarta.persistence.OptimisticLockException cause) {
            return concurrentChange(cause);
        }
        for (Throwable cause = e; cause != null; cause = cause.getCause()) {
            if (cause instanceof java.sql.SQLException sql && String.valueOf(sql.getMessage()).contains("acquisition timeout")) {
                LOG.warn("no database connection became free in time; answering 503");
                return Response.fromResponse(response(503, "Service Unavailable",
                        "the control plane's database connections are all busy; retry shortly", null))
                        .header("Retry-After", "1").build();
            }
        }
        LOG.error("request failed unexpectedly", e);
        return response(500, "Internal Server Error", "the control plane failed to handle the request: " + e.getMessage(), null);
    }

    private static String path(JsonMappingException e) {
        StringBuilder path = new StringBuilder();
        for (JsonMappingException.Reference reference : e.getPath()) {
            if (reference.getFieldName() != null) {
                if (!path.isEmpty()) {
                    path.append('.');
                }
                path.append(reference.getFieldName());
            } else if (reference.getIndex() >= 0) {
                path.append('[').append(reference.getIndex()).append(']');
            }
        }
        return path.toString();
    }

    /** "create.spec.vcpus" (method.parameter.field) → "vcpus"; query parameters keep their name. */
    private static String fieldPath(String propertyPath) {
        String[] parts = propertyPath.split("\\.", 3);
        return parts.length == 3 ? parts[2] : parts[parts.length - 1];
    }
}
