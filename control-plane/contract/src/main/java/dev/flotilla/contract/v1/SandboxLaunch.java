package dev.flotilla.contract.v1;

import com.fasterxml.jackson.annotation.JsonIgnoreProperties;
import com.fasterxml.jackson.annotation.JsonInclude;

import java.util.List;
import java.util.Map;

/**
 * The control plane asking a node agent to run a sandbox (body of {@code PUT /v1/sandboxes/{id}}).
 *
 * @param sandboxId  identifier, also the idempotency key
 * @param name       the user's name for the sandbox
 * @param image      OCI image reference of the root filesystem
 * @param command    command to run in the guest, or empty for the image's default
 * @param vcpus      vCPUs for the VM
 * @param memoryMiB  guest memory in MiB
 * @param labels     the sandbox's labels
 * @param generation spec generation; an agent holding an older generation recreates the VM
 */
@JsonInclude(JsonInclude.Include.NON_NULL)
@JsonIgnoreProperties(ignoreUnknown = true)
public record SandboxLaunch(
        String sandboxId,
        String name,
        String image,
        List<String> command,
        int vcpus,
        long memoryMiB,
        Map<String, String> labels,
        long generation) {
}
