package dev.flotilla.images;

import java.util.List;
import java.util.Map;

/**
 * What an image asks of the container that runs it (the {@code config} object of the OCI image
 * configuration). Empty lists and maps, never null, for absent fields; {@code workingDir},
 * {@code user} and {@code stopSignal} are empty strings when unset.
 *
 * @param entrypoint   ENTRYPOINT
 * @param cmd          CMD (the default arguments)
 * @param env          environment, {@code NAME=value} entries in image order
 * @param workingDir   WORKDIR
 * @param user         USER ({@code uid}, {@code uid:gid}, or names resolved inside the guest)
 * @param exposedPorts EXPOSE, e.g. {@code 80/tcp}
 * @param labels       LABEL
 * @param stopSignal   STOPSIGNAL
 */
public record ImageConfig(List<String> entrypoint, List<String> cmd, List<String> env, String workingDir,
                          String user, List<String> exposedPorts, Map<String, String> labels, String stopSignal) {
    public ImageConfig {
        entrypoint = List.copyOf(entrypoint);
        cmd = List.copyOf(cmd);
        env = List.copyOf(env);
        exposedPorts = List.copyOf(exposedPorts);
        labels = Map.copyOf(labels);
    }
}
