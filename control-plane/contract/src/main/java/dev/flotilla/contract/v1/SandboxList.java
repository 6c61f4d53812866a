package dev.flotilla.contract.v1;

import com.fasterxml.jackson.annotation.JsonIgnoreProperties;
import com.fasterxml.jackson.annotation.JsonInclude;

import java.util.List;

/** Every sandbox a node agent holds (body of {@code GET /v1/sandboxes}). */
@JsonInclude(JsonInclude.Include.NON_NULL)
@JsonIgnoreProperties(ignoreUnknown = true)
public record SandboxList(List<SandboxStatus> sandboxes) {
}
