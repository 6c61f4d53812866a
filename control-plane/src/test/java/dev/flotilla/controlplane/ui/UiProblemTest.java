package dev.flotilla.controlplane.ui;

import dev.flotilla.controlplane.api.ApiException;
import dev.flotilla.controlplane.api.FieldError;
import org.junit.jupiter.api.Test;

import java.util.List;
import java.util.concurrent.CompletionException;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;

class UiProblemTest {

    @Test
    void errorFor_exactField_isTheMessage() {
        UiProblem problem = new UiProblem(400, "Bad Request", "x", List.of(new FieldError("vcpus", "must be at least 1")));
        assertEquals("must be at least 1", problem.errorFor("vcpus"));
        assertNull(problem.errorFor("name"));
    }

    @Test
    void errorFor_nestedField_namesTheElement() {
        UiProblem problem = new UiProblem(400, "Bad Request", "x",
                List.of(new FieldError("tolerations[0].operator", "must be Equal or Exists")));
        assertEquals("[0].operator must be Equal or Exists", problem.errorFor("tolerations"));
    }

    @Test
    void from_wrappedApiException_keepsTheApisStatusAndSentence() {
        UiProblem problem = UiProblem.from(new CompletionException(ApiException.conflict("a sandbox named 'a' already exists")));
        assertEquals(409, problem.status());
        assertEquals("Conflict", problem.title());
        assertEquals("a sandbox named 'a' already exists", problem.detail());
    }
}
