package dev.flotilla.controlplane.ui;

import io.quarkus.qute.TemplateData;

/**
 * Something an operator should look at, derived from the current fleet state.
 *
 * @param severity "critical" or "warning"
 * @param link     where to look, or null
 */
@TemplateData
public record Alert(String severity, String text, String link) {
}
