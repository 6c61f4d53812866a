package dev.flotilla.controlplane.ui;

import io.quarkus.qute.TemplateData;

import java.util.List;

/** The create-sandbox form, empty or with what was typed and the API's answer. */
@TemplateData
public record NewSandboxPage(Layout layout, SandboxForm form, UiProblem problem, List<String> restartPolicies) {

    public String error(String field) {
        return problem == null ? null : problem.errorFor(field);
    }
}
