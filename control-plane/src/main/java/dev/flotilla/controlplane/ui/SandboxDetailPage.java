package dev.flotilla.controlplane.ui;

import io.quarkus.qute.TemplateData;

import java.util.List;

/**
 * One sandbox: spec, placement, history and (while it is on a node) its live serial console and container logs,
 * relayed by the control plane from the node agent.
 *
 * @param sandbox null when it no longer exists (deleted while the page was open)
 * @param ref     the id the page was opened with
 */
@TemplateData
public record SandboxDetailPage(Layout layout, String ref, SandboxDetail sandbox, List<EventRow> events,
                                UiProblem problem) {

    /** What the detail page shows of a sandbox. */
    @TemplateData
    public record SandboxDetail(String id, String name, String image, String command, int vcpus, String memory,
                                String labels, String nodeSelector, String tolerations, String antiAffinity,
                                String restartPolicy, String desiredState, String observedState, String node,
                                String message, long generation, int restarts, String bootTime, String created,
                                String placed, boolean canStop, boolean canStart, boolean deleting,
                                String consoleUrl, String consoleUnavailable, boolean containerLogs) {
    }

    /** One history entry. */
    @TemplateData
    public record EventRow(String at, String type, String node, String message) {
    }
}
