package dev.flotilla.controlplane.ui;

import io.quarkus.qute.TemplateData;

import java.util.List;

/** A page made of charts whose data the browser loads from {@code dataUrl} (and again on live updates). */
@TemplateData
public record ChartPage(Layout layout, String window, List<String> windows, String dataUrl) {
}
