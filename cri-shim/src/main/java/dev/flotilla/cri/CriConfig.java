package dev.flotilla.cri;

import java.nio.file.Path;
import java.util.List;
import java.util.Objects;
import java.util.regex.Pattern;

/**
 * Settings of the CRI shim. The node-agent builds one from its own configuration; {@link #defaults()} gives the
 * values a Debian node uses.
 *
 * @param socket          Unix socket the kubelet connects to ({@code --container-runtime-endpoint=unix://...})
 * @param runtimeVersion  Flotilla's version, reported by Version (semver)
 * @param runtimeHandlers RuntimeClass handler names served besides the default (empty) one
 * @param cgroupDriver    cgroup driver the kubelet must use, reported by RuntimeConfig
 * @param cniConfDir      where CNI network configurations live
 * @param cniBinDirs      where CNI plugin binaries are looked for, in order
 */
public record CriConfig(Path socket, String runtimeVersion, List<String> runtimeHandlers, CgroupDriver cgroupDriver,
                        Path cniConfDir, List<Path> cniBinDirs) {

    public static final Path DEFAULT_SOCKET = Path.of("/run/flotilla/cri.sock");
    /** The RuntimeClass handler name a cluster uses to select Flotilla. */
    public static final String DEFAULT_HANDLER = "flotilla";

    // RuntimeClass handler names are DNS labels (Kubernetes validates them the same way).
    private static final Pattern HANDLER = Pattern.compile("[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?");

    /** How pod cgroups are managed on the node; must match the kubelet's configuration. */
    public enum CgroupDriver { SYSTEMD, CGROUPFS }

    public CriConfig {
        Objects.requireNonNull(socket, "socket");
        Objects.requireNonNull(runtimeVersion, "runtimeVersion");
        Objects.requireNonNull(cgroupDriver, "cgroupDriver");
        Objects.requireNonNull(cniConfDir, "cniConfDir");
        if (!socket.isAbsolute()) {
            throw new IllegalArgumentException("CRI socket path " + socket + " must be absolute");
        }
        runtimeHandlers = List.copyOf(runtimeHandlers);
        for (String handler : runtimeHandlers) {
            if (!HANDLER.matcher(handler).matches()) {
                throw new IllegalArgumentException("runtime handler '" + handler
                        + "' is not a DNS label (lower-case letters, digits and '-', at most 63 characters)");
            }
        }
        cniBinDirs = List.copyOf(cniBinDirs);
    }

    public static CriConfig defaults() {
        return new CriConfig(DEFAULT_SOCKET, "0.1.0", List.of(DEFAULT_HANDLER), CgroupDriver.SYSTEMD,
                Path.of("/etc/cni/net.d"), List.of(Path.of("/opt/cni/bin"), Path.of("/usr/lib/cni")));
    }

    public CriConfig withSocket(Path path) {
        return new CriConfig(path, runtimeVersion, runtimeHandlers, cgroupDriver, cniConfDir, cniBinDirs);
    }

    public CriConfig withCni(Path confDir, List<Path> binDirs) {
        return new CriConfig(socket, runtimeVersion, runtimeHandlers, cgroupDriver, confDir, binDirs);
    }

    public CriConfig withHandlers(List<String> handlers) {
        return new CriConfig(socket, runtimeVersion, handlers, cgroupDriver, cniConfDir, cniBinDirs);
    }

    /** True for the default handler (empty name) and each configured one. */
    public boolean servesHandler(String name) {
        return name.isEmpty() || runtimeHandlers.contains(name);
    }
}
