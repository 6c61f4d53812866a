package dev.flotilla.controlplane.ui;

import io.quarkus.qute.TemplateData;

import java.util.List;

/**
 * The sandbox list with its filters.
 *
 * @param query the filter as a query string, for the live-refreshed table and the next page
 * @param next  the cursor of the next page, or null on the last
 */
@TemplateData
public record SandboxesPage(Layout layout, List<SandboxRow> sandboxes, String label, String state, String node,
                            List<String> states, List<String> nodeNames, String query, String next, UiProblem problem) {
}
