package dev.flotilla.controlplane.sandbox;

import jakarta.validation.Valid;
import jakarta.validation.constraints.Max;
import jakarta.validation.constraints.Min;
import jakarta.validation.constraints.NotBlank;
import jakarta.validation.constraints.NotNull;
import jakarta.validation.constraints.Pattern;
import jakarta.validation.constraints.Size;

import java.util.List;
import java.util.Map;

/**
 * What a user asks for when creating a sandbox (body of {@code POST /api/v1/sandboxes}).
 *
 * @param antiAffinity labels: prefer nodes running no sandbox that carries all of them
 */
public record SandboxSpec(
        @NotBlank @Size(max = 63)
        @Pattern(regexp = "^[a-z0-9]([-a-z0-9]*[a-z0-9])?$", message = "must be a DNS label: lower-case letters, digits and '-'")
        String name,
        @NotBlank @Size(max = 512) String image,
        @Size(max = 64) List<@NotNull @Size(max = 4096) String> command,
        @NotNull @Min(1) @Max(256) Integer vcpus,
        @NotNull @Min(16) @Max(4_194_304) Long memoryMiB,
        @ValidLabels Map<String, String> labels,
        @ValidLabels Map<String, String> nodeSelector,
        @Size(max = 32) List<@NotNull @Valid TolerationSpec> tolerations,
        @ValidLabels Map<String, String> antiAffinity,
        RestartPolicy restartPolicy) {

    /** The spec with absent optional fields replaced by their defaults. */
    public SandboxSpec normalized() {
        return new SandboxSpec(name, image, command == null ? List.of() : command, vcpus, memoryMiB,
                labels == null ? Map.of() : labels, nodeSelector == null ? Map.of() : nodeSelector,
                tolerations == null ? List.of() : tolerations, antiAffinity == null ? Map.of() : antiAffinity,
                restartPolicy == null ? RestartPolicy.ALWAYS : restartPolicy);
    }
}
