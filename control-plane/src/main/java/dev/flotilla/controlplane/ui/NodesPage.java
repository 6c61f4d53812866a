package dev.flotilla.controlplane.ui;

import io.quarkus.qute.TemplateData;

import java.util.List;

/**
 * The node list.
 *
 * @param next the "after" value of the next page, or null on the last page
 */
@TemplateData
public record NodesPage(Layout layout, List<NodeRow> nodes, String next, UiProblem problem) {
}
