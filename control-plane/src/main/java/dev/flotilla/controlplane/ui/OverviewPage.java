package dev.flotilla.controlplane.ui;

import io.quarkus.qute.TemplateData;

import java.util.List;

/** The fleet overview: node health, capacity against use, VMs, boot times and alerts. */
@TemplateData
public record OverviewPage(Layout layout, long nodes, long readyNodes, long unhealthyNodes, long cordonedNodes,
                           List<Usage> capacity, long vmsReported, long sandboxes, long running,
                           List<StateCount> sandboxStates, String bootP50, String bootP99, long bootCount,
                           List<Alert> alerts, List<NodeRow> busiestNodes) {
}
