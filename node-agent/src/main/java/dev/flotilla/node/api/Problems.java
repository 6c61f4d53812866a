package dev.flotilla.node.api;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.exc.InvalidFormatException;
import com.fasterxml.jackson.databind.exc.MismatchedInputException;
import com.fasterxml.jackson.databind.JsonMappingException;
import jakarta.ws.rs.WebApplicationException;
import jakarta.ws.rs.core.Response;
import org.jboss.logging.Logger;
import org.jboss.resteasy.reactive.server.ServerExceptionMapper;

import java.util.List;
import java.util.stream.Collectors;

/** Turns every failure of a REST call into a problem+json body; nothing else reaches the client. */
public class Problems {
    private static final Logger LOG = Logger.getLogger(Problems.class);

    public static Response response(int status, String detail, List<FieldError> errors) {
        Response.Status s = Response.Status.fromStatusCode(status);
        String title = s != null ? s.getReasonPhrase() : "HTTP " + status;
        return Response.status(status).type(ProblemDetail.MEDIA_TYPE)
                .entity(new ProblemDetail("about:blank", title, status, detail, errors)).build();
    }

    @ServerExceptionMapper
    public Response api(ApiException e) {
        return response(e.status(), e.getMessage(), e.errors());
    }

    /** Malformed JSON, or a value of the wrong type ("vcpus": "two"). */
    @ServerExceptionMapper
    public Response json(JsonProcessingException e) {
        if (e instanceof JsonMappingException m && !m.getPath().isEmpty()) {
            String field = m.getPath().stream()
                    .map(r -> r.getFieldName() != null ? r.getFieldName() : "[" + r.getIndex() + "]")
                    .collect(Collectors.joining(".")).replace(".[", "[");
            String message = m instanceof InvalidFormatException f
                    ? "must be a " + friendlyType(f.getTargetType()) + ", not " + f.getValue()
                    : m instanceof MismatchedInputException mi && mi.getTargetType() != null
                    ? "must be a " + friendlyType(mi.getTargetType()) : "has the wrong type";
            return response(400, "the request is invalid: " + field + " " + message, List.of(new FieldError(field, message)));
        }
        return response(400, "the request body is not valid JSON: " + e.getOriginalMessage(), null);
    }

    /** Registered for the exact types Quarkus REST Jackson maps itself, so that ours (problem+json) win. */
    @ServerExceptionMapper
    public Response invalidFormat(InvalidFormatException e) {
        return json(e);
    }

    @ServerExceptionMapper
    public Response mismatchedInput(MismatchedInputException e) {
        return json(e);
    }

    @ServerExceptionMapper
    public Response web(WebApplicationException e) {
        int status = e.getResponse().getStatus();
        if (e.getCause() instanceof JsonProcessingException j) {
            return json(j);
        }
        String detail = switch (status) {
            case 404 -> "no such resource";
            case 405 -> "this method is not allowed here";
            case 406 -> "the requested media type is not available; this API answers application/json";
            case 415 -> "the request body must be application/json";
            default -> e.getMessage();
        };
        return response(status, detail, null);
    }

    @ServerExceptionMapper
    public Response unexpected(RuntimeException e) {
        LOG.error("unexpected failure serving a request", e);
        return response(500, "the node agent failed to handle the request: " + e, null);
    }

    private static String friendlyType(Class<?> type) {
        if (type == int.class || type == Integer.class || type == long.class || type == Long.class) {
            return "whole number";
        }
        if (type == boolean.class || type == Boolean.class) {
            return "boolean";
        }
        if (type.isEnum()) {
            return "one of " + java.util.Arrays.toString(type.getEnumConstants()).toLowerCase(java.util.Locale.ROOT);
        }
        if (List.class.isAssignableFrom(type)) {
            return "list";
        }
        if (java.util.Map.class.isAssignableFrom(type)) {
            return "object";
        }
        return "string";
    }
}
