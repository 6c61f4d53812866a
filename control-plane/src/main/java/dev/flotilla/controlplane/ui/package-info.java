/**
 * The web dashboard at {@code /ui}: server-rendered Qute pages (templates and assets in the repository's
 * {@code web-ui/} directory) over the same services and resources as the REST API.
 *
 * <ul>
 *   <li>Reads are plain SQL in {@link dev.flotilla.controlplane.ui.UiQueries}; changes call the API's own resource
 *       methods ({@code SandboxResource}, {@code NodeResource}), and their failures are turned into the problem
 *       documents the API would answer ({@link dev.flotilla.controlplane.ui.UiProblem}), so a form shows exactly what a
 *       REST client would read.</li>
 *   <li>Sign-in: an API token is exchanged once for an in-memory session ({@link dev.flotilla.controlplane.ui.UiSessions});
 *       {@link dev.flotilla.controlplane.ui.UiAuthFilter} guards every page and checks that POSTs come from the
 *       dashboard's own origin. Read-only tokens get no mutating controls and are refused server-side.</li>
 *   <li>Live updates: {@link dev.flotilla.controlplane.ui.LiveUpdates} fingerprints the fleet once a second while a
 *       browser listens and sends named server-sent events; the page re-fetches only the fragments that show the
 *       changed part.</li>
 *   <li>Console and logs: {@link dev.flotilla.controlplane.ui.SandboxLogStream} relays a sandbox's output from its node
 *       agent ({@code dev.flotilla.controlplane.logs}) as server-sent events, refusals included as events the page
 *       shows in words (an EventSource cannot read an error status).</li>
 *   <li>Charts: {@link dev.flotilla.controlplane.ui.FleetSeries} samples per-node density into {@code node_sample} and
 *       reads boot times a database trigger copies into {@code boot_time_sample}.</li>
 * </ul>
 * View models are records annotated {@code @TemplateData}; templates declare their parameter types, so a wrong
 * expression fails the build rather than a page.
 */
package dev.flotilla.controlplane.ui;
