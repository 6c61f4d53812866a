package dev.flotilla.controlplane.ui;

import io.quarkus.qute.TemplateData;

/** How many sandboxes are in one observed state. */
@TemplateData
public record StateCount(String state, long count) {
}
