package dev.flotilla.controlplane.ui;

import io.quarkus.qute.TemplateData;

/**
 * What every page's frame shows: title, the active navigation entry, who is signed in and a one-shot notice.
 *
 * @param active one of overview, nodes, sandboxes, new, density, boot-times
 */
@TemplateData
public record Layout(String title, String active, String role, boolean canWrite, String notice) {

    /** The frame of a full page: shows (and clears) the session's pending notice. */
    static Layout of(String title, String active, UiSession session) {
        return new Layout(title, active, session.role(), session.canWrite(), session.takeNotice());
    }

    /** For a live-refreshed fragment: leaves the notice for the next full page. */
    static Layout fragment(String active, UiSession session) {
        return new Layout("", active, session.role(), session.canWrite(), null);
    }
}
